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

// Fuzz targets (libFuzzer), see README "Fuzzing": declared only when WEBSOCKETS_FUZZ is set, so that a
// plain `swift build` / `swift test` never sees them (they link only with `-sanitize=fuzzer`).
// `Scripts/fuzz.sh` sets it and builds with `-Xswiftc -sanitize=fuzzer,address` into .build-fuzz.
if Context.environment["WEBSOCKETS_FUZZ"] != nil {
    // FuzzInflate drives the internal zlib streams (`Inflater`, `Deflater`) through `@testable import`.
    if let core = package.targets.first(where: { $0.name == "WebSocketCore" }) {
        core.swiftSettings = (core.swiftSettings ?? []) + [.unsafeFlags(["-enable-testing"])]
    }
    package.targets += [
        // Declares libFuzzer's LLVMFuzzerRunDriver, which each target's main.swift calls.
        .target(name: "CFuzzerDriver", path: "Fuzz/Sources/CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["WebSocketCore", "CFuzzerDriver"], path: "Fuzz/Sources/FuzzSupport",
                swiftSettings: strict),
    ]
    for name in ["FuzzConnectionCore", "FuzzClientHandshake", "FuzzServerHandshake", "FuzzPerMessageDeflate",
                 "FuzzInflate", "FuzzWebSocketURL"] {
        package.targets.append(.executableTarget(name: name, dependencies: ["WebSocketCore", "FuzzSupport"],
                                                 path: "Fuzz/Sources/\(name)", swiftSettings: strict))
    }
}
