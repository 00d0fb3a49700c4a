/// A tiny command-line parser: options with values (`--name value` or `--name=value`), repeatable
/// options, flags and positionals. Zero dependencies by design.
struct Arguments {
    private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []

    /// Parses `arguments`; names in `flagNames` take no value.
    init(_ arguments: [String], flagNames: Set<String>) throws(CLIError) {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                positionals.append(argument)
                continue
            }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if flagNames.contains(name) {
                guard value == nil else { throw CLIError("--\(name) takes no value") }
                flags.insert(name)
                continue
            }
            if value == nil {
                guard index < arguments.count else { throw CLIError("--\(name) needs a value") }
                value = arguments[index]
                index += 1
            }
            values[name, default: []].append(value!)
        }
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    func all(_ name: String) -> [String] { values[name] ?? [] }

    func string(_ name: String) -> String? { values[name]?.last }

    func int(_ name: String) throws(CLIError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text) else { throw CLIError("--\(name) expects an integer, got \"\(text)\"") }
        return value
    }

    func seconds(_ name: String) throws(CLIError) -> Duration? {
        guard let text = string(name) else { return nil }
        guard let value = Double(text), value >= 0, value.isFinite else {
            throw CLIError("--\(name) expects seconds, got \"\(text)\"")
        }
        return .nanoseconds(Int64(value * 1e9))
    }

    /// Rejects options the command does not know, so typos do not pass silently.
    func rejectUnknown(_ known: Set<String>) throws(CLIError) {
        for name in values.keys.sorted() where !known.contains(name) { throw CLIError("unknown option --\(name)") }
        for name in flags.sorted() where !known.contains(name) { throw CLIError("unknown option --\(name)") }
    }
}

/// A usage error of the command line (exit status 2... reported as `error invalidArgument`).
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
