using Stadig.Audit;
using Stadig.Hl7.Mllp;
using Stadig.Organisation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

// Not Stadig.Results: that namespace would hide ASP.NET Core's Results class from the web layer's endpoints.
namespace Stadig.LabResults;

/// <summary>
/// Runs the HL7 v2 MLLP listener for lab results inside `stadig serve`: port from
/// <c>Stadig:Mllp:Port</c> (default 2575; 0 disables it), the lab unit from
/// <c>Stadig:Mllp:LabUnitHsaId</c> (default: the first unit of kind Lab).
/// </summary>
public sealed class MllpHostedService(
    Stadig.Hosting.StadigOptions stadigOptions, Database database, AuditLog audit, PatientIdentifierRules identifiers, StaffDirectory staff,
    TimeProvider clock, Stadig.Common.RegionTime regionTime, ILoggerFactory loggers, Stadig.Hosting.DatabaseReadiness readiness) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger<MllpHostedService>();
    private readonly CancellationTokenSource _stopping = new();
    private MllpListener? _listener;
    private Task _starting = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (readiness.IsReady) return StartListenerAsync(cancellationToken);
        // The database is not reached yet: the lab unit is read from it, so the port opens once it is
        // (until then labs cannot connect and keep their messages).
        _starting = Task.Run(async () =>
        {
            try
            {
                await readiness.WhenReady.WaitAsync(_stopping.Token);
                await StartListenerAsync(_stopping.Token);
            }
            catch (OperationCanceledException) { }
        });
        return Task.CompletedTask;
    }

    private async Task StartListenerAsync(CancellationToken cancellationToken)
    {
        var settings = stadigOptions.Mllp;
        var port = settings.Port;
        if (port == 0)
        {
            _logger.LogInformation("MLLP listener disabled (Stadig:Mllp:Port = 0)");
            return;
        }
        CareUnit labUnit;
        try
        {
            labUnit = await LabIntegration.UnitAsync(staff, settings.LabUnitHsaId, cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            // Without a lab unit results cannot be filed; not listening makes labs keep their messages.
            _logger.LogError("MLLP listener not started: {Problem}", e.Message);
            return;
        }
        var caller = await LabIntegration.CallerAsync(staff, labUnit, cancellationToken);
        var ingest = new IngestOruMessage(database, audit, new PatientMatcher(identifiers), caller, clock,
            new IngestOptions { NonProduction = settings.NonProductionMessages, Region = regionTime });
        var options = new MllpOptions
        {
            Port = port,
            Address = System.Net.IPAddress.Parse(settings.Address),
            MaxMessageBytes = settings.MaxMessageBytes,
            ReadTimeout = TimeSpan.FromSeconds(settings.ReadTimeoutSeconds),
            IdleTimeout = TimeSpan.FromMinutes(settings.IdleTimeoutMinutes),
        };
        _listener = new MllpListener(ingest, options, loggers.CreateLogger<MllpListener>());
        _listener.Start();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _starting;
        if (_listener is not null) await _listener.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null) await _listener.DisposeAsync();
    }
}
