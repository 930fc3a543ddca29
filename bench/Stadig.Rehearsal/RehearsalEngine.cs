namespace Stadig.Rehearsal;

/// <summary>Where the server is and how to reach it.</summary>
public sealed record RehearsalTarget(Uri BaseAddress, string MllpHost, int MllpPort, string DatabaseConnectionString, JwtSettings Jwt, int? ServerPid);

/// <summary>
/// Runs the rehearsal against a running server: reads the patient pool, starts the clinicians
/// (spread over the ramp-up), the lab feed, the FHIR integrations and the resource sampler, stops
/// them all after the duration (or earlier, when <c>stopWhen</c> says so), and builds the report.
/// </summary>
public static class RehearsalEngine
{
    public static async Task<RehearsalReport> RunAsync(RehearsalTarget target, RehearsalConfig config, RunInfo run,
        Func<Recorder, bool>? stopWhen = null, TextWriter? progress = null, Action<IReadOnlyCollection<Sample>>? keepSamples = null,
        CancellationToken cancellationToken = default)
    {
        var pool = await PatientPool.LoadAsync(target.DatabaseConnectionString, config, cancellationToken);
        progress?.WriteLine($"patient pool: {string.Join(", ", pool.Units.Select(u => $"{u.UnitName} {u.Patients.Count}"))}");
        if (config.WarmUp)
        {
            var warm = await WarmUpAsync(target, config, pool, cancellationToken);
            progress?.WriteLine($"warm-up (untimed): {warm.Count} actions, {warm.Count(s => s.Outcome != Outcome.Ok)} not ok");
        }
        var recorder = new Recorder();
        var startedAt = DateTimeOffset.UtcNow;
        var overload = config.Overload;
        var total = config.TotalSeconds;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(TimeSpan.FromSeconds(total));
        var stopping = stop.Token;
        // The clinicians (and lab and FHIR share) added for the overload go off shift at its end: they
        // finish the request in flight and stop at their next pause.
        using var offShift = new CancellationTokenSource();
        // The export is polled past the end of the load, for at most the grace period (set when the load ends).
        using var exportStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        var sampler = new ServerSampler(target.ServerPid ?? Environment.ProcessId, recorder);
        var tasks = new List<Task> { sampler.RunAsync(stopping) };
        var physicians = 0;
        Task Clinician(int i, double startAtSeconds, CancellationToken shift)
        {
            // Spread evenly: clinician i is a physician when the rounded running share steps up, and
            // works in unit i mod units, so a few clinicians already cover every unit and both roles.
            var isPhysician = Math.Floor((i + 1) * config.PhysicianShare + 0.5) > Math.Floor(i * config.PhysicianShare + 0.5);
            if (isPhysician) physicians++;
            var unit = pool.Units[i % pool.Units.Count];
            var session = new ClinicianSession(target.BaseAddress, config, unit, isPhysician, recorder, seed: 17 + i);
            return Task.Run(async () =>
            {
                try { await DelayUntilAsync(recorder, startAtSeconds, stopping); }
                catch (OperationCanceledException) { return; }
                await session.RunAsync(stopping, shift);
            }, CancellationToken.None);
        }
        for (var i = 0; i < config.Clinicians; i++)
            tasks.Add(Clinician(i, config.Clinicians <= 1 ? 0 : config.RampUpSeconds * i / config.Clinicians, CancellationToken.None));
        progress?.WriteLine($"{config.Clinicians} clinicians ({physicians} physicians), lab {config.LabMessagesPerSecond:0.###} ORU/s, FHIR {config.FhirRequestsPerSecond:0.###} req/s, {total:0} s, think times × {config.ThinkScale:0.###}");
        var labPatients = pool.Units.SelectMany(u => u.Patients).DistinctBy(p => p.Id).ToList();
        tasks.Add(Task.Run(() => new LabFeed(target.MllpHost, target.MllpPort, config, labPatients, recorder).RunAsync(stopping), CancellationToken.None));
        tasks.Add(Task.Run(() => new FhirIntegration(target.BaseAddress, config, pool, target.Jwt, recorder).RunAsync(stopping), CancellationToken.None));

        OverloadRun? overloadRun = null;
        Task? exportTask = null;
        if (overload.Enabled)
        {
            var overloadStart = overload.BaselineSeconds;
            var overloadEnd = overloadStart + overload.OverloadSeconds;
            var added = (int)Math.Round(config.Clinicians * (overload.Factor - 1));
            var extra = overload.Factor - 1;
            offShift.CancelAfter(TimeSpan.FromSeconds(Math.Max(0, overloadEnd - recorder.Elapsed)));
            for (var j = 0; j < added; j++)
                tasks.Add(Clinician(config.Clinicians + j, overloadStart + overload.RampUpSeconds * j / Math.Max(1, added), offShift.Token));
            tasks.Add(AtAsync(recorder, overloadStart, stopping, () =>
                new LabFeed(target.MllpHost, target.MllpPort, config, labPatients, recorder, config.LabMessagesPerSecond * extra, seed: 5000).RunAsync(stopping, offShift.Token)));
            tasks.Add(AtAsync(recorder, overloadStart, stopping, () =>
                new FhirIntegration(target.BaseAddress, config, pool, target.Jwt, recorder, config.FhirRequestsPerSecond * extra, seed: 77).RunAsync(stopping, offShift.Token)));
            tasks.Add(Task.Run(() => new HealthProbe(target.BaseAddress, config, recorder).RunAsync(stopping), CancellationToken.None));
            var export = overload.Export && pool.Administrator is { } admin ? new BulkExport(target.BaseAddress, config, target.Jwt, admin, recorder) : null;
            if (export is not null) exportTask = AtAsync(recorder, overloadStart, stopping, () => export.RunAsync(exportStop.Token));
            overloadRun = new OverloadRun(overload.Factor,
            [
                new Phase("baseline", 0, overloadStart, config.Clinicians),
                new Phase("overload", overloadStart, overloadEnd, config.Clinicians + added),
                new Phase("recovery", overloadEnd, total, config.Clinicians),
            ], export);
            progress?.WriteLine($"overload: ×{overload.Factor:0.##} ({config.Clinicians + added} clinicians) from {overloadStart:0} s to {overloadEnd:0} s, then {config.Clinicians} again until {total:0} s" +
                (export is null ? "" : "; bulk $export at the start of the overload"));
        }

        using (var ticker = new PeriodicTimer(TimeSpan.FromMilliseconds(250)))
        {
            var lastPrint = 0.0;
            try
            {
                while (await ticker.WaitForNextTickAsync(stopping))
                {
                    if (stopWhen?.Invoke(recorder) == true) { await stop.CancelAsync(); break; }
                    if (progress is not null && recorder.Elapsed - lastPrint >= 10)
                    {
                        lastPrint = recorder.Elapsed;
                        var samples = recorder.Samples;
                        var phase = overloadRun?.Phases.LastOrDefault(p => p.StartSeconds <= lastPrint)?.Name;
                        progress.WriteLine($"{recorder.Elapsed,5:0} s{(phase is null ? "" : $" ({phase})")}: {samples.Count} actions, {samples.Count(s => s.Outcome == Outcome.Error)} errors, {samples.Count(s => s.Outcome == Outcome.Shed)} shed");
                    }
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
            }
        }
        var duration = recorder.Elapsed;
        await Task.WhenAll(tasks);
        if (exportTask is not null)
        {
            if (!exportTask.IsCompleted) progress?.WriteLine($"load stopped; polling the export for at most {overload.ExportGraceSeconds:0} s more");
            exportStop.CancelAfter(TimeSpan.FromSeconds(overload.ExportGraceSeconds));
            await exportTask;
        }
        cancellationToken.ThrowIfCancellationRequested();
        keepSamples?.Invoke(recorder.Samples);
        return RehearsalReport.Build(config.Name, startedAt, duration, run, recorder.Samples, sampler.Samples, target.ServerPid, config,
            overloadRun, recorder.Unavailable, recorder.CutOffMilliseconds);
    }

    private static async Task DelayUntilAsync(Recorder recorder, double atSeconds, CancellationToken stopping)
    {
        var wait = atSeconds - recorder.Elapsed;
        if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(wait), stopping);
    }

    /// <summary>Starts <paramref name="work"/> at <paramref name="atSeconds"/> into the run, unless the run ends first.</summary>
    private static Task AtAsync(Recorder recorder, double atSeconds, CancellationToken stopping, Func<Task> work) => Task.Run(async () =>
    {
        try { await DelayUntilAsync(recorder, atSeconds, stopping); }
        catch (OperationCanceledException) { return; }
        await work();
    }, CancellationToken.None);

    /// <summary>One untimed pass of every kind of action, recorded apart and dropped from the report.</summary>
    private static async Task<IReadOnlyCollection<Sample>> WarmUpAsync(RehearsalTarget target, RehearsalConfig config, PatientPool pool, CancellationToken cancellationToken)
    {
        var scratch = new Recorder();
        var once = config.Clone();
        var none = new ThinkRange(0, 0);
        once.Think = new ThinkTimes
        {
            AfterLogin = none, AfterList = none, AfterSearch = none, ReadChart = none, ReadNote = none, ReadResults = none, AfterInbox = none, BetweenPatients = none,
        };
        once.Notes = new NoteWriting { AutosaveSeconds = 0, AutosavesMin = 1, AutosavesMax = 1 };
        once.NoteShare = 1;
        once.InboxShare = 1;
        await new LabFeed(target.MllpHost, target.MllpPort, once, pool.Units.SelectMany(u => u.Patients).ToList(), scratch).WarmUpAsync(cancellationToken);
        await new FhirIntegration(target.BaseAddress, once, pool, target.Jwt, scratch).WarmUpAsync(cancellationToken);
        await new ClinicianSession(target.BaseAddress, once, pool.Units[0], isPhysician: true, scratch, seed: 1).WarmUpAsync(cancellationToken);
        return scratch.Samples;
    }
}
