import Foundation
import PackagePlugin

/// Builds the project's documents into its targets as Swift source (the tool `embed-sources`):
/// web/'s pages and the two OpenAPI documents into GymServer, the bridge's Python worker into
/// GymBridge. Each has one source in the repository; the generated files live in the build folder
/// and are remade when a source changes.
@main
struct EmbedSources: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let tool = try context.tool(named: "embed-sources").url
        let root = context.package.directoryURL
        let out = context.pluginWorkDirectoryURL
        switch target.name {
        case "GymServer":
            let web = root.appendingPathComponent("web")
            let pages = try FileManager.default.contentsOfDirectory(atPath: web.path)
                .filter { !$0.hasPrefix(".") }.sorted().map { web.appendingPathComponent($0) }
            let assets = out.appendingPathComponent("WebAssets.swift")
            var commands: [Command] = [
                .buildCommand(
                    displayName: "Embedding the web pages into GymServer", executable: tool,
                    arguments: ["web", assets.path] + pages.map(\.path), inputFiles: pages, outputFiles: [assets])
            ]
            for (document, type, describes) in [
                ("openapi.json", "OpenAPIDocument", "the API port"), ("openapi-files.json", "FilesOpenAPIDocument", "the files port"),
            ] {
                let source = root.appendingPathComponent("docs/\(document)")
                let generated = out.appendingPathComponent("\(type).swift")
                commands.append(
                    .buildCommand(
                        displayName: "Embedding docs/\(document) into GymServer", executable: tool,
                        arguments: ["openapi", generated.path, type, describes, "docs/\(document)", source.path],
                        inputFiles: [source], outputFiles: [generated]))
            }
            return commands
        case "GymBridge":
            let source = root.appendingPathComponent("bridge/gym_server_worker.py")
            let generated = out.appendingPathComponent("WorkerScript.swift")
            return [
                .buildCommand(
                    displayName: "Embedding bridge/gym_server_worker.py into GymBridge", executable: tool,
                    arguments: ["worker", generated.path, source.path], inputFiles: [source], outputFiles: [generated])
            ]
        default:
            return []
        }
    }
}
