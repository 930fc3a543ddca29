using System.Collections.Concurrent;
using Stadig.Hosting;

namespace Stadig.Auth;

/// <summary>
/// Slows password guessing without letting anyone lock a clinician out. Failures are counted per
/// account and source address together: after <see cref="StadigOptions.FailedLoginsBeforeDelay"/>
/// of them, that source must wait before it may try that account again, twice as long after each
/// further failure (1 s, 2 s, 4 s … up to <see cref="StadigOptions.MaxLoginDelaySeconds"/>). The
/// same account from any other address is not slowed, so an attacker guessing a ward's usernames
/// cannot keep its physicians out (a hard account lock would). The per-address rate limit
/// (LoginAttemptsPerMinute) caps guessing across accounts. Kept in the node's memory: with several
/// nodes behind a balancer an attacker gets each node's allowance, which still only slows them.
/// </summary>
public sealed class LoginThrottle(StadigOptions options, TimeProvider clock)
{
    /// <summary>A source's count is forgotten after this long without a failure.</summary>
    private static readonly TimeSpan Memory = TimeSpan.FromHours(1);

    private const int PruneAbove = 10_000;

    private readonly ConcurrentDictionary<(string Account, string Source), Failures> _failures = new();

    private sealed record Failures(int Count, DateTimeOffset NotBefore, DateTimeOffset Last);

    /// <summary>How long the source must still wait before trying the account again, or null if it may try now.</summary>
    public TimeSpan? WaitFor(string? account, string source)
    {
        if (!_failures.TryGetValue(Key(account, source), out var failures)) return null;
        var now = clock.GetUtcNow();
        return failures.NotBefore > now ? failures.NotBefore - now : null;
    }

    public void Failed(string? account, string source)
    {
        var now = clock.GetUtcNow();
        _failures.AddOrUpdate(Key(account, source),
            _ => Next(0, now),
            (_, previous) => Next(now - previous.Last > Memory ? 0 : previous.Count, now));
        if (_failures.Count > PruneAbove)
            foreach (var (key, failures) in _failures)
                if (now - failures.Last > Memory) _failures.TryRemove(key, out _);
    }

    public void Succeeded(string? account, string source) => _failures.TryRemove(Key(account, source), out _);

    private Failures Next(int previousCount, DateTimeOffset now)
    {
        var count = previousCount + 1;
        var over = count - Math.Max(1, options.FailedLoginsBeforeDelay);
        var delay = over < 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(Math.Pow(2, Math.Min(over, 30)), Math.Max(1, options.MaxLoginDelaySeconds)));
        return new Failures(count, now + delay, now);
    }

    private static (string, string) Key(string? account, string source) => ((account ?? "").Trim().ToLowerInvariant(), source);
}
