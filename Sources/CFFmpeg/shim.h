#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <errno.h>

// Function-like macros and a few C-array-typed calls that Swift cannot import or call
// comfortably, wrapped as static inline functions (no separate library to build).

/// AVERROR(EAGAIN): the encoder wants input (send_frame) or has no output yet (receive_packet).
static inline int cffmpeg_averror_eagain(void) { return AVERROR(EAGAIN); }

/// AVERROR_EOF: the encoder has been drained completely.
static inline int cffmpeg_averror_eof(void) { return AVERROR_EOF; }

/// AV_CODEC_FLAG_GLOBAL_HEADER, for containers (MP4) that want SPS/PPS in extradata.
static inline int cffmpeg_codec_flag_global_header(void) { return AV_CODEC_FLAG_GLOBAL_HEADER; }

/// Converts one packed RGB24 picture (`height` rows of `stride` bytes) into `frame`'s planes.
static inline int cffmpeg_scale_rgb24_into_frame(
    struct SwsContext *context, const uint8_t *rgb, int stride, int height, AVFrame *frame)
{
    const uint8_t *const source[4] = { rgb, NULL, NULL, NULL };
    const int sourceStride[4] = { stride, 0, 0, 0 };
    return sws_scale(context, source, sourceStride, 0, height, frame->data, frame->linesize);
}

/// Sets full-range sRGB/BT.709 input and limited-range BT.709 output coefficients.
static inline int cffmpeg_use_bt709(struct SwsContext *context)
{
    const int *coefficients = sws_getCoefficients(SWS_CS_ITU709);
    return sws_setColorspaceDetails(context, coefficients, 1, coefficients, 0, 0, 1 << 16, 1 << 16);
}
