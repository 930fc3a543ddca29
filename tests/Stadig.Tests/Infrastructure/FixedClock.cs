namespace Stadig.Tests.Infrastructure;

/// <summary>A clock that stands still unless moved: tests about time never wait for it.</summary>
public sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    private DateTimeOffset _now = now;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
