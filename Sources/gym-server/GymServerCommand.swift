import ArgumentParser
import Foundation
import GymServer
import Logging

@main
struct GymServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gym-server",
        abstract: "The OpenAI gym HTTP API, with Gymnasium's environments built in.",
        discussion: "Serves the API on --port and the monitor directory with the web view on --files-port.")

    @Option(help: "Address to listen on (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port of the gym HTTP API.")
    var port = 5000

    @Option(name: .customLong("files-port"), help: "Port of the file server and web view (0 disables it).")
    var filesPort = 8000

    @Option(name: .customLong("monitor-dir"), help: "Directory for rendered frames and monitor files, served on --files-port.")
    var monitorDir = "./monitor"

    @Option(name: .customLong("log-level"), help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Flag(name: .customLong("allow-shutdown"), help: "Allow POST /v1/shutdown/ to stop the server.")
    var allowShutdown = false

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("Unknown log level '\(logLevel)': use trace, debug, info, notice, warning, error or critical.")
        }
        guard (0...65535).contains(port) else {
            throw ValidationError("--port must be between 0 and 65535")
        }
        guard (0...65535).contains(filesPort) else {
            throw ValidationError("--files-port must be between 0 and 65535")
        }
    }

    func run() async throws {
        let configuration = GymServerConfiguration(
            host: host, port: port, filesPort: filesPort,
            monitorRoot: URL(fileURLWithPath: monitorDir).standardizedFileURL,
            allowShutdown: allowShutdown, logLevel: Logger.Level(rawValue: logLevel) ?? .info)
        try await runGymServer(configuration: configuration)
    }
}
