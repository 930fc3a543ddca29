using System.Net;

namespace Stadig.Rehearsal;

/// <summary>
/// What a load balancer does: GET /health/live at a fixed interval throughout the run, open loop (a
/// slow answer does not delay the next probe), on its own connections. Every probe is a sample of
/// <see cref="Action"/>; anything but 200 is an error.
/// </summary>
public sealed class HealthProbe(Uri baseAddress, RehearsalConfig config, Recorder recorder)
{
    public const string Action = "health-live";

    public async Task RunAsync(CancellationToken stopping)
    {
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false })
        {
            BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(config.RequestTimeoutSeconds),
        };
        var probes = new List<Task>();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(0.01, config.Overload.HealthProbeSeconds)));
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                probes.RemoveAll(t => t.IsCompleted);
                probes.Add(recorder.MeasureAsync(Action, async () =>
                {
                    using var response = await http.GetAsync("/health/live", stopping);
                    await response.Content.ReadAsByteArrayAsync(stopping);
                    return response.StatusCode == HttpStatusCode.OK ? ActionResult<bool>.Ok(true) : ActionResult<bool>.Error(Shedding.Status(response));
                }, stopping));
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        await Task.WhenAll(probes);
    }
}
