using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Stadig.Organisation;

namespace Stadig.Downtime;

/// <summary>
/// What one unit's run gave: the HTML file and the PDF beside it, or the problem that kept it from them;
/// and how long each part took (<see cref="Seal"/>: rendering both and encrypting).
/// </summary>
public sealed record SnapshotOutcome(CareUnit Unit, SnapshotProblem Problem, int Patients = 0, string? File = null,
    TimeSpan Read = default, TimeSpan Seal = default, TimeSpan Write = default, string? Pdf = null);

/// <summary>A unit's snapshot state for the operations page: the newest generation, whether it is stale, and why there is none.</summary>
public sealed record SnapshotStatus(CareUnit Unit, DateTimeOffset? LastAt, bool Stale, SnapshotProblem Problem);

/// <summary>
/// Downtime snapshots (issue 19, item 1): for every ward with a key, the unit's snapshot is read through
/// the checkpoint (<see cref="UnitSnapshotReader"/>), rendered as a page (<see cref="SnapshotPage"/>)
/// encrypted with the unit's key (<see cref="SnapshotCipher"/>) and as a PDF for printing encrypted under
/// the same key (<see cref="SnapshotPdf"/>), both written to the unit's folder, older generations pruned.
/// Only reads touch the database, so it works while the database refuses writes.
/// </summary>
public sealed class DowntimeSnapshots(UnitSnapshotReader reader, SnapshotPage page, SnapshotPdf printout, StaffDirectory staff, SnapshotSettings settings,
    TimeProvider clock, ILogger<DowntimeSnapshots> logger)
{
    private readonly ConcurrentDictionary<Guid, SnapshotProblem> _lastProblem = new();
    private readonly ConcurrentDictionary<string, (byte[] Fingerprint, byte[] Salt, byte[] Key)> _keys = new();

    public SnapshotSettings Settings => settings;

    /// <summary>The units that get snapshots: the wards (the units with beds and a ward list).</summary>
    public async Task<IReadOnlyList<CareUnit>> UnitsAsync(CancellationToken cancellationToken = default) =>
        (await staff.UnitsAsync(cancellationToken)).Where(u => u.Kind == UnitKind.Ward).OrderBy(u => u.Name, StringComparer.Ordinal).ToList();

    /// <summary>
    /// Makes snapshots now: of one unit (by HSA-id) or of every ward; with <paramref name="onlyDue"/> (the
    /// schedule) only of units whose newest snapshot is at least one interval old, so several nodes on one
    /// share do not each write one.
    /// </summary>
    public async Task<IReadOnlyList<SnapshotOutcome>> GenerateAsync(string? unitHsaId = null, bool onlyDue = false, CancellationToken cancellationToken = default)
    {
        if (!settings.Enabled) throw new SnapshotsOffException();
        var units = await UnitsAsync(cancellationToken);
        if (unitHsaId is not null)
        {
            units = units.Where(u => string.Equals(u.HsaId, unitHsaId, StringComparison.OrdinalIgnoreCase)).ToList();
            if (units.Count == 0) throw new Common.InvalidInputException("unit", $"Det finns ingen vårdavdelning med HSA-id {unitHsaId}.");
        }
        var outcomes = new List<SnapshotOutcome>(units.Count);
        foreach (var unit in units)
        {
            if (onlyDue && SnapshotFiles.Generations(settings.Folder!, unit.HsaId).FirstOrDefault() is { } last
                && clock.GetUtcNow() - last.TakenAt < settings.Interval * 0.9)
                continue;
            outcomes.Add(await GenerateOneAsync(unit, cancellationToken));
        }
        return outcomes;
    }

    private async Task<SnapshotOutcome> GenerateOneAsync(CareUnit unit, CancellationToken cancellationToken)
    {
        var (passphrase, problem) = SnapshotKeys.Read(settings.KeyFolder, unit.HsaId);
        if (passphrase is null) return Remember(new SnapshotOutcome(unit, problem));
        using var held = SnapshotFiles.TryLock(settings.Folder!, unit.HsaId, TimeSpan.FromMinutes(10));
        // Another node is writing this unit's snapshot right now.
        if (held is null) return Remember(new SnapshotOutcome(unit, SnapshotProblem.None));
        var started = Stopwatch.GetTimestamp();
        UnitSnapshot snapshot;
        try { snapshot = await reader.ReadAsync(unit, cancellationToken); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The database unreachable, or a read that cannot be audited anywhere (fail closed): the old snapshot stays, flagged when stale.
            logger.LogWarning("Downtime snapshot of unit {Unit}: the record could not be read ({Error})", unit.HsaId, e.GetType().Name);
            return Remember(new SnapshotOutcome(unit, SnapshotProblem.ReadFailed));
        }
        var read = Stopwatch.GetElapsedTime(started);
        started = Stopwatch.GetTimestamp();
        var (salt, key) = KeyFor(unit.HsaId, passphrase);
        var html = page.File(snapshot, SnapshotCipher.Seal(key, salt, SnapshotCipher.Iterations, SnapshotPage.AssociatedData(snapshot), page.Body(snapshot)));
        byte[]? pdf = null;
        try { pdf = printout.Render(snapshot, passphrase); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Without its font (fonts-dejavu-core) there is no PDF, but the HTML file, which needs none, is still written.
            logger.LogWarning("Downtime snapshot of unit {Unit}: the PDF could not be made ({Error})", unit.HsaId, e.GetType().Name);
        }
        var seal = Stopwatch.GetElapsedTime(started);
        started = Stopwatch.GetTimestamp();
        try
        {
            var file = await SnapshotFiles.WriteAsync(settings.Folder!, unit.HsaId, snapshot.TakenAt, html, pdf, settings.Kept, cancellationToken);
            return Remember(new SnapshotOutcome(unit, pdf is null ? SnapshotProblem.PrintFailed : SnapshotProblem.None, snapshot.Patients.Count, file, read, seal,
                Stopwatch.GetElapsedTime(started), pdf is null ? null : SnapshotFiles.PdfFor(file)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Downtime snapshot of unit {Unit} could not be written: {Error}", unit.HsaId, e.GetType().Name);
            return Remember(new SnapshotOutcome(unit, SnapshotProblem.WriteFailed));
        }
    }

    /// <summary>
    /// PBKDF2 is slow on purpose; the derived key is kept in memory per unit while its passphrase is the
    /// same (a new salt when it changes), so each generation costs a fresh IV, not a new derivation.
    /// </summary>
    private (byte[] Salt, byte[] Key) KeyFor(string unitHsaId, string passphrase)
    {
        var fingerprint = SHA256.HashData(Encoding.UTF8.GetBytes(passphrase));
        if (_keys.TryGetValue(unitHsaId, out var known) && CryptographicOperations.FixedTimeEquals(known.Fingerprint, fingerprint))
            return (known.Salt, known.Key);
        var salt = SnapshotCipher.NewSalt();
        var key = SnapshotCipher.DeriveKey(passphrase, salt);
        _keys[unitHsaId] = (fingerprint, salt, key);
        return (salt, key);
    }

    private SnapshotOutcome Remember(SnapshotOutcome outcome)
    {
        _lastProblem[outcome.Unit.Id] = outcome.Problem;
        return outcome;
    }

    /// <summary>Every ward's newest snapshot and whether it is stale (older than twice the schedule), with the last problem this node met.</summary>
    public async Task<IReadOnlyList<SnapshotStatus>> StatusAsync(CancellationToken cancellationToken = default)
    {
        if (!settings.Enabled) return [];
        var now = clock.GetUtcNow();
        var statuses = new List<SnapshotStatus>();
        foreach (var unit in await UnitsAsync(cancellationToken))
        {
            var last = SnapshotFiles.Generations(settings.Folder!, unit.HsaId).FirstOrDefault()?.TakenAt;
            var problem = SnapshotKeys.Read(settings.KeyFolder, unit.HsaId).Problem;
            if (problem == SnapshotProblem.None) problem = _lastProblem.GetValueOrDefault(unit.Id);
            statuses.Add(new SnapshotStatus(unit, last, settings.IsStale(last, now), problem));
        }
        return statuses;
    }
}

/// <summary>Snapshots were asked for but no folder is set.</summary>
public sealed class SnapshotsOffException() : Common.ConflictException("Reservrutinen är avstängd: ange Stadig:Downtime:Snapshots:Folder.");

/// <summary>The schedule: every node looks each minute (or each interval, if shorter) for wards whose snapshot is due.</summary>
public sealed class SnapshotScheduleService(DowntimeSnapshots snapshots, Hosting.DatabaseReadiness readiness, ILogger<SnapshotScheduleService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!snapshots.Settings.Enabled) return;
        await readiness.WhenReady.WaitAsync(stoppingToken);
        var tick = snapshots.Settings.Interval < TimeSpan.FromMinutes(1) ? snapshots.Settings.Interval : TimeSpan.FromMinutes(1);
        using var timer = new PeriodicTimer(tick);
        do
        {
            try
            {
                var made = await snapshots.GenerateAsync(onlyDue: true, cancellationToken: stoppingToken);
                foreach (var outcome in made.Where(o => o.Problem != SnapshotProblem.None))
                    logger.LogWarning("Downtime snapshot of unit {Unit} not made: {Problem}", outcome.Unit.HsaId, outcome.Problem);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The database may be unreachable; the operations page shows the stale snapshot, and the next tick tries again.
                logger.LogWarning("Downtime snapshots failed: {Error}", e.GetType().Name);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
