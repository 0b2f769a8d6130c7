// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "gym-server",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gym-server", targets: ["gym-server"]),
        .executable(name: "gym-load", targets: ["gym-load"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    ],
    targets: [
        // Spaces, the Env protocol, the registry, numpy-compatible random streams, JSON.
        .target(name: "GymCore"),
        // libpng, found with pkg-config.
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        // Canvas, anti-aliased rasteriser, PNG encoding. Knows nothing of environments.
        .target(name: "GymRender", dependencies: ["CPNG"]),
        // The environments, each drawing itself onto a Canvas.
        .target(name: "GymEnvs", dependencies: ["GymCore", "GymRender"]),
        // libavcodec / libavformat / libswscale / libavutil, found with pkg-config.
        .systemLibrary(
            name: "CFFmpeg", pkgConfig: "libavformat",
            providers: [.apt(["libavcodec-dev", "libavformat-dev", "libswscale-dev", "libavutil-dev"])]),
        // What the C library offers that Swift's Glibc module does not: malloc_trim, per-thread nice.
        .target(name: "CGymSystem"),
        // Episode statistics, openaigym.* files, video recording.
        .target(name: "GymMonitor", dependencies: ["CFFmpeg", "CGymSystem"]),

        // Builds web/, docs/openapi*.json and bridge/gym_server_worker.py into the targets as
        // Swift source at build time: one source each, nothing generated in git.
        .executableTarget(name: "embed-sources"),
        .plugin(name: "EmbedSources", capability: .buildTool(), dependencies: ["embed-sources"]),

        // Gymnasium environments served by Python worker processes (bridge/PROTOCOL.md).
        .target(name: "GymBridge", dependencies: ["GymEnvs", "CGymSystem"], plugins: ["EmbedSources"]),

        // The instance runtime, transport-free: EnvironmentManager and its instances, frames,
        // keys, limits, blocking work, the environments' metrics. No HTTP: the compiler keeps
        // the transports out.
        .target(
            name: "GymService",
            dependencies: [
                "GymCore", "GymEnvs", "GymRender", "GymMonitor", "GymBridge", "CGymSystem",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        // The transports on GymService: HTTP API, fast paths, WebSocket protocol, file server,
        // live view, health and Prometheus metrics.
        .target(
            name: "GymServer",
            dependencies: [
                "GymService", "GymCore", "GymEnvs", "GymMonitor", "GymBridge", "CGymSystem",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            plugins: ["EmbedSources"]),
        .executableTarget(
            name: "gym-server",
            dependencies: [
                "GymServer", "GymService", "GymBridge", "GymCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // A compiled client for load tests and latency benchmarks against a running server.
        .executableTarget(
            name: "gym-load",
            dependencies: [
                "GymCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "GymCoreTests", dependencies: ["GymCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GymRenderTests", dependencies: ["GymRender"]),
        .testTarget(name: "GymEnvsTests", dependencies: ["GymEnvs", "GymCore", "GymRender"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GymMonitorTests", dependencies: ["GymMonitor"]),
        .testTarget(
            name: "GymServerTests",
            dependencies: [
                "GymServer", "GymService", "GymBridge", "GymCore", "GymRender",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            resources: [.copy("Fixtures")]),
    ]
)
