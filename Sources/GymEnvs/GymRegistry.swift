import GymCore

extension Registry {
    /// Every environment gym-server runs, registered as Gymnasium registers them.
    public static let gym: Registry = {
        var registry = Registry()
        registry.registerClassicControl()
        registry.registerToyText()
        return registry
    }()
}
