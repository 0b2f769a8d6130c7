#ifndef GYM_CPNG_SHIM_H
#define GYM_CPNG_SHIM_H

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * libpng reports errors by longjmp-ing to a jmp_buf, which Swift cannot set up.
 * The helpers below do the setjmp and the whole encode in C and report failure
 * through a return code, so no libpng error can unwind through Swift frames.
 */

/* Return codes of gym_png_encode_rgb8, gym_png_write_rgb8_zlib and gym_png_decode_rgb8. */
#define GYM_PNG_OK 0
#define GYM_PNG_BAD_ARGUMENT 1
#define GYM_PNG_OUT_OF_MEMORY 2
#define GYM_PNG_LIBPNG_ERROR 3
#define GYM_PNG_TOO_LARGE 4

/* A growable memory sink for png_set_write_fn. */
typedef struct {
    uint8_t *bytes;
    size_t count;
    size_t capacity;
    int failed;
} gym_png_sink;

static inline void gym_png_sink_write(png_structp png, png_bytep data, size_t length) {
    gym_png_sink *sink = (gym_png_sink *)png_get_io_ptr(png);
    if (sink->failed) {
        return;
    }
    if (sink->count + length > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity : 4096;
        while (capacity < sink->count + length) {
            capacity *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(sink->bytes, capacity);
        if (grown == NULL) {
            sink->failed = 1;
            png_error(png, "out of memory");
            return;
        }
        sink->bytes = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->bytes + sink->count, data, length);
    sink->count += length;
}

static inline void gym_png_sink_flush(png_structp png) { (void)png; }

/* Errors are reported through the return code; warnings are dropped. */
static inline void gym_png_silent_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

/*
 * Encodes an 8-bit RGB image (rows of `stride` bytes) as a PNG in memory.
 * `filter` is a PNG_FILTER_* mask (or PNG_NO_FILTERS), `level` a zlib level (0-9),
 * `strategy` a zlib strategy (Z_DEFAULT_STRATEGY, Z_RLE, ...), `mem_level` zlib's memory
 * level (1-9: smaller hash tables are cheaper to slide on large flat images).
 * On success *out holds malloc'd bytes the caller frees with gym_png_free.
 */
static inline int gym_png_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height,
                                      size_t stride, int level, int filter, int strategy,
                                      int mem_level, uint8_t **out, size_t *out_count) {
    if (out == NULL || out_count == NULL) {
        return GYM_PNG_BAD_ARGUMENT;
    }
    *out = NULL;
    *out_count = 0;
    if (pixels == NULL || width == 0 || height == 0 || stride < (size_t)width * 3 ||
        level < 0 || level > 9 || mem_level < 1 || mem_level > 9) {
        return GYM_PNG_BAD_ARGUMENT;
    }

    png_bytep *volatile rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (rows == NULL) {
        return GYM_PNG_OUT_OF_MEMORY;
    }
    for (uint32_t y = 0; y < height; y++) {
        rows[y] = (png_bytep)(pixels + (size_t)y * stride);
    }

    /* Guess the size: flat frames compress to a few percent of the raw size; the sink grows
     * by doubling when the guess is short.
     * The sink lives on the heap and is reached through a volatile pointer, so its state
     * is well defined after a longjmp. */
    gym_png_sink *volatile sink = (gym_png_sink *)calloc(1, sizeof(gym_png_sink));
    if (sink == NULL) {
        free(rows);
        return GYM_PNG_OUT_OF_MEMORY;
    }
    sink->capacity = (size_t)width * height * 3 / 16 + 4096;
    sink->bytes = (uint8_t *)malloc(sink->capacity);
    if (sink->bytes == NULL) {
        free(sink);
        free(rows);
        return GYM_PNG_OUT_OF_MEMORY;
    }

    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL,
                                              gym_png_silent_warning);
    if (png == NULL) {
        free(rows);
        free(sink->bytes);
        free(sink);
        return GYM_PNG_OUT_OF_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        free(rows);
        free(sink->bytes);
        free(sink);
        return GYM_PNG_OUT_OF_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        int code = sink->failed ? GYM_PNG_OUT_OF_MEMORY : GYM_PNG_LIBPNG_ERROR;
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(sink->bytes);
        free(sink);
        return code;
    }

    png_set_write_fn(png, sink, gym_png_sink_write, gym_png_sink_flush);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, filter);
    png_set_compression_level(png, level);
    png_set_compression_strategy(png, strategy);
    png_set_compression_mem_level(png, mem_level);
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);

    png_destroy_write_struct(&png, &info);
    free(rows);
    *out = sink->bytes;
    *out_count = sink->count;
    free(sink);
    return GYM_PNG_OK;
}

/*
 * Writes an 8-bit RGB PNG of `width` x `height` pixels whose image data, the filtered scanlines
 * as one zlib stream, the caller has already compressed (`zdata`, `zcount` bytes; see
 * FastDeflate.swift): libpng writes the signature and IHDR (png_write_info), then the stream as
 * IDAT chunks and an IEND chunk (png_write_chunk; png_write_end would refuse, since libpng did not
 * write the IDAT itself). On success *out holds malloc'd bytes the caller frees with gym_png_free.
 */
static inline int gym_png_write_rgb8_zlib(uint32_t width, uint32_t height, const uint8_t *zdata,
                                          size_t zcount, uint8_t **out, size_t *out_count) {
    if (out == NULL || out_count == NULL) {
        return GYM_PNG_BAD_ARGUMENT;
    }
    *out = NULL;
    *out_count = 0;
    if (zdata == NULL || zcount == 0 || width == 0 || height == 0 || width > PNG_UINT_31_MAX ||
        height > PNG_UINT_31_MAX) {
        return GYM_PNG_BAD_ARGUMENT;
    }
    /* Signature, IHDR, IEND and 12 bytes per IDAT chunk. */
    size_t chunk_limit = (size_t)1 << 30;
    size_t overhead = 8 + 25 + 12 + 12 * (zcount / chunk_limit + 1);
    if (zcount > SIZE_MAX - overhead) {
        return GYM_PNG_OUT_OF_MEMORY;
    }
    gym_png_sink *volatile sink = (gym_png_sink *)calloc(1, sizeof(gym_png_sink));
    if (sink == NULL) {
        return GYM_PNG_OUT_OF_MEMORY;
    }
    sink->capacity = zcount + overhead;
    sink->bytes = (uint8_t *)malloc(sink->capacity);
    if (sink->bytes == NULL) {
        free(sink);
        return GYM_PNG_OUT_OF_MEMORY;
    }

    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL,
                                              gym_png_silent_warning);
    if (png == NULL) {
        free(sink->bytes);
        free(sink);
        return GYM_PNG_OUT_OF_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        free(sink->bytes);
        free(sink);
        return GYM_PNG_OUT_OF_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        int code = sink->failed ? GYM_PNG_OUT_OF_MEMORY : GYM_PNG_LIBPNG_ERROR;
        png_destroy_write_struct(&png, &info);
        free(sink->bytes);
        free(sink);
        return code;
    }

    png_set_write_fn(png, sink, gym_png_sink_write, gym_png_sink_flush);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    static const png_byte idat[5] = {'I', 'D', 'A', 'T', 0};
    static const png_byte iend[5] = {'I', 'E', 'N', 'D', 0};
    for (size_t offset = 0; offset < zcount; offset += chunk_limit) {
        size_t length = zcount - offset < chunk_limit ? zcount - offset : chunk_limit;
        png_write_chunk(png, idat, zdata + offset, length);
    }
    png_write_chunk(png, iend, NULL, 0);

    png_destroy_write_struct(&png, &info);
    *out = sink->bytes;
    *out_count = sink->count;
    free(sink);
    return GYM_PNG_OK;
}

/*
 * Decodes any PNG (gray, palette, RGB, with or without alpha, 8 or 16 bits) into 8-bit RGB
 * rows of width * 3 bytes, compositing an alpha channel over `background` (3 bytes).
 * Images of more than `max_pixels` pixels are refused with GYM_PNG_TOO_LARGE. On success
 * *out holds malloc'd bytes the caller frees with gym_png_free. On GYM_PNG_LIBPNG_ERROR,
 * `message` (of `message_capacity` bytes) receives libpng's explanation.
 */
static inline int gym_png_decode_rgb8(const uint8_t *bytes, size_t count, uint64_t max_pixels,
                                      const uint8_t *background, uint8_t **out,
                                      uint32_t *width, uint32_t *height, char *message,
                                      size_t message_capacity) {
    if (out == NULL || width == NULL || height == NULL) {
        return GYM_PNG_BAD_ARGUMENT;
    }
    *out = NULL;
    *width = 0;
    *height = 0;
    if (message != NULL && message_capacity > 0) {
        message[0] = 0;
    }
    if (bytes == NULL || count == 0) {
        return GYM_PNG_BAD_ARGUMENT;
    }

    png_image image;
    memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, bytes, count)) {
        if (message != NULL && message_capacity > 0) {
            strncpy(message, image.message, message_capacity - 1);
            message[message_capacity - 1] = 0;
        }
        png_image_free(&image);
        return GYM_PNG_LIBPNG_ERROR;
    }
    if (image.width == 0 || image.height == 0 || image.width > 0x7fffffff / 4 ||
        (uint64_t)image.width * (uint64_t)image.height > max_pixels) {
        *width = image.width;
        *height = image.height;
        png_image_free(&image);
        return GYM_PNG_TOO_LARGE;
    }
    image.format = PNG_FORMAT_RGB;
    size_t size = (size_t)image.width * image.height * 3;
    uint8_t *pixels = (uint8_t *)malloc(size);
    if (pixels == NULL) {
        png_image_free(&image);
        return GYM_PNG_OUT_OF_MEMORY;
    }
    png_color back = {0, 0, 0};
    if (background != NULL) {
        back.red = background[0];
        back.green = background[1];
        back.blue = background[2];
    }
    if (!png_image_finish_read(&image, &back, pixels, (png_int_32)(image.width * 3), NULL)) {
        if (message != NULL && message_capacity > 0) {
            strncpy(message, image.message, message_capacity - 1);
            message[message_capacity - 1] = 0;
        }
        free(pixels);
        png_image_free(&image);
        return GYM_PNG_LIBPNG_ERROR;
    }
    *out = pixels;
    *width = image.width;
    *height = image.height;
    return GYM_PNG_OK;
}

/* Frees bytes returned by gym_png_encode_rgb8, gym_png_write_rgb8_zlib and gym_png_decode_rgb8. */
static inline void gym_png_free(void *bytes) { free(bytes); }

#endif
