import GymCore
import GymRender

/// An environment that draws its `rgb_array` frame: the same size and picture as Gymnasium's.
public protocol RenderableEnvironment: Environment {
    /// Width and height of the frame, in pixels.
    var frameSize: (width: Int, height: Int) { get }
    /// Draws the current state onto a canvas of `frameSize`.
    func render(into canvas: inout Canvas)
}

extension RenderableEnvironment {
    /// A new frame of the current state.
    public func renderFrame() -> Canvas {
        let size = frameSize
        var canvas = Canvas(width: size.width, height: size.height)
        render(into: &canvas)
        return canvas
    }
}

/// An environment whose frame comes from outside (a bridged environment's worker), of a size
/// known only once drawn, and whose drawing can fail.
public protocol FrameSourceEnvironment: Environment {
    func currentFrame() throws(GymError) -> Canvas
}

extension WrappedEnvironment {
    /// The frame of the current state, or why there is none: an environment that cannot draw, or
    /// one that has not been reset yet.
    public func renderFrame() throws(GymError) -> Canvas {
        if let source = env as? any FrameSourceEnvironment {
            guard hasReset else {
                throw GymError("Cannot render \(id) before calling env.reset(): reset the environment first")
            }
            return try source.currentFrame()
        }
        guard let drawable = env as? any RenderableEnvironment else {
            throw GymError("\(id) has no rgb_array render")
        }
        guard hasReset else {
            throw GymError("Cannot render \(id) before calling env.reset(): reset the environment first")
        }
        return drawable.renderFrame()
    }
}

extension CartPoleEnv: RenderableEnvironment {
    public var frameSize: (width: Int, height: Int) { (CartPoleScene.width, CartPoleScene.height) }
    public func render(into canvas: inout Canvas) {
        CartPoleScene.draw(x: cartPosition ?? 0, theta: poleAngle ?? 0, into: &canvas)
    }
}

extension MountainCarEnv: RenderableEnvironment {
    public var frameSize: (width: Int, height: Int) { (MountainCarScene.width, MountainCarScene.height) }
    public func render(into canvas: inout Canvas) {
        MountainCarScene.draw(position: carPosition ?? -0.5, goalPosition: goalPosition, into: &canvas)
    }
}

extension MountainCarContinuousEnv: RenderableEnvironment {
    public var frameSize: (width: Int, height: Int) { (MountainCarScene.width, MountainCarScene.height) }
    public func render(into canvas: inout Canvas) {
        MountainCarScene.draw(position: carPosition ?? -0.5, goalPosition: goalPosition, into: &canvas)
    }
}

extension PendulumEnv: RenderableEnvironment {
    public var frameSize: (width: Int, height: Int) { (PendulumScene.width, PendulumScene.height) }
    public func render(into canvas: inout Canvas) {
        PendulumScene.draw(theta: angle ?? 0, lastTorque: lastU.map(Double.init), into: &canvas)
    }
}

extension AcrobotEnv: RenderableEnvironment {
    public var frameSize: (width: Int, height: Int) { (AcrobotScene.width, AcrobotScene.height) }
    public func render(into canvas: inout Canvas) {
        AcrobotScene.draw(theta1: theta1 ?? 0, theta2: theta2 ?? 0, into: &canvas)
    }
}

extension FrozenLakeEnv: RenderableEnvironment {
    public var frameSize: (width: Int, height: Int) { FrozenLakeScene.frameSize(rows: nrow, columns: ncol) }
    public func render(into canvas: inout Canvas) {
        FrozenLakeScene.draw(desc: desc.map(Array.init), position: position, into: &canvas)
    }
}

extension TaxiEnv: RenderableEnvironment {
    public var frameSize: (width: Int, height: Int) { (TaxiScene.width, TaxiScene.height) }
    public func render(into canvas: inout Canvas) {
        TaxiScene.draw(
            taxiRow: taxiRow, taxiColumn: taxiCol, passengerLocation: passengerLocation, destination: destination,
            orientation: taxiOrientation, into: &canvas)
    }
}

extension CliffWalkingEnv: RenderableEnvironment {
    public var frameSize: (width: Int, height: Int) { (CliffWalkingScene.width, CliffWalkingScene.height) }
    public func render(into canvas: inout Canvas) {
        CliffWalkingScene.draw(position: position, into: &canvas)
    }
}

extension BlackjackEnv: RenderableEnvironment {
    public var frameSize: (width: Int, height: Int) { (BlackjackScene.width, BlackjackScene.height) }
    public func render(into canvas: inout Canvas) {
        BlackjackScene.draw(
            playerSum: playerSum, dealerCardValue: dealerCard, usableAce: usableAce, dealerCard: dealerTopCard,
            into: &canvas)
    }
}
