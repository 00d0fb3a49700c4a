// swift-tools-version:6.0
import PackageDescription

// Zero package dependencies, by design: see README "Architecture". System libraries only.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "WebSockets",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .library(name: "WebSockets", targets: ["WebSockets"]),
        .library(name: "WebSocketTesting", targets: ["WebSocketTesting"]),
        .library(name: "WebSocketServer", targets: ["WebSocketServer"]),
        .executable(name: "websocket", targets: ["websocket"]),
    ],
    targets: [
        // Thin C shim for the system calls Swift does not import cleanly (epoll, eventfd).
        .target(name: "CWebSocketsShim"),
        // The system OpenSSL for TLS (wss://): libssl and libcrypto, found with pkg-config.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // The system zlib, for permessage-deflate (RFC 7692).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        // Sans-I/O protocol core: standard library and zlib only. No sockets, tasks, clocks or locks.
        .target(name: "WebSocketCore", dependencies: ["CZlib"], swiftSettings: strict),
        // Public async/await API, event loop and transports.
        .target(
            name: "WebSockets",
            dependencies: ["WebSocketCore", "CWebSocketsShim", "COpenSSL"],
            swiftSettings: strict
        ),
        // Accepting side (minimal loopback server; grows into the full server API).
        .target(name: "WebSocketServer", dependencies: ["WebSockets", "WebSocketCore"], swiftSettings: strict),
        // What users import in their own test suites: in-memory transports and a scripted peer.
        .target(name: "WebSocketTesting", dependencies: ["WebSockets", "WebSocketCore"], swiftSettings: strict),
        .executableTarget(
            name: "websocket",
            dependencies: ["WebSockets", "WebSocketServer"],
            swiftSettings: strict
        ),
        .testTarget(name: "WebSocketCoreTests", dependencies: ["WebSocketCore"], swiftSettings: strict),
        .testTarget(
            name: "WebSocketsTests",
            // `websocket` is a dependency so that its binary is built for the CLI contract tests.
            dependencies: ["WebSockets", "WebSocketCore", "WebSocketServer", "WebSocketTesting", "websocket"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
