using System.Globalization;

namespace Stadig.Rehearsal;

/// <summary>One reading of the server process and the machine.</summary>
public sealed record ResourceSample(double AtSeconds, double ServerCpuPercent, double ServerRssMiB, int ServerThreads, double MachineCpuPercent);

/// <summary>
/// Samples the server process's CPU time and resident memory from /proc/&lt;pid&gt;/stat and status
/// once a second, and the whole machine's CPU from /proc/stat (the generator shares the cores).
/// CPU percent is of one core: 200 % is both cores of a 2-core machine. Linux only; elsewhere empty.
/// </summary>
public sealed class ServerSampler(int pid, Recorder recorder)
{
    // USER_HZ: 100 on every mainstream Linux architecture.
    private const double TicksPerSecond = 100;
    private readonly List<ResourceSample> _samples = [];

    public int Pid => pid;

    public IReadOnlyList<ResourceSample> Samples => _samples;

    public async Task RunAsync(CancellationToken stopping)
    {
        if (!File.Exists($"/proc/{pid}/stat")) return;
        var (lastTicks, lastAt) = (ProcessTicks(), recorder.Elapsed);
        var (lastBusy, lastTotal) = MachineTicks();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                var ticks = ProcessTicks();
                var at = recorder.Elapsed;
                var (busy, total) = MachineTicks();
                var (rss, threads) = Status();
                lock (_samples)
                {
                    _samples.Add(new ResourceSample(at,
                        (ticks - lastTicks) / TicksPerSecond / (at - lastAt) * 100,
                        rss / 1024.0, threads,
                        total > lastTotal ? (busy - lastBusy) * 100.0 / (total - lastTotal) : 0));
                }
                (lastTicks, lastAt, lastBusy, lastTotal) = (ticks, at, busy, total);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
            // The server process ended: what was sampled stays.
        }
    }

    private long ProcessTicks()
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture); // utime + stime
    }

    private (long RssKiB, int Threads) Status()
    {
        long rss = 0;
        var threads = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = int.Parse(line.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        return (rss, threads);
    }

    private static (long Busy, long Total) MachineTicks()
    {
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        var idle = cpu[3] + (cpu.Length > 4 ? cpu[4] : 0); // idle + iowait
        var total = cpu.Take(8).Sum();
        return (total - idle, total);
    }
}
