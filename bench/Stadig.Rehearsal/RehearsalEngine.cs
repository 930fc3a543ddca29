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
        Func<Recorder, bool>? stopWhen = null, TextWriter? progress = null, CancellationToken cancellationToken = default)
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
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(TimeSpan.FromSeconds(config.DurationSeconds));
        var stopping = stop.Token;

        var sampler = new ServerSampler(target.ServerPid ?? Environment.ProcessId, recorder);
        var tasks = new List<Task> { sampler.RunAsync(stopping) };
        var physicians = 0;
        for (var i = 0; i < config.Clinicians; i++)
        {
            // Spread evenly: clinician i is a physician when the rounded running share steps up, and
            // works in unit i mod units, so a few clinicians already cover every unit and both roles.
            var isPhysician = Math.Floor((i + 1) * config.PhysicianShare + 0.5) > Math.Floor(i * config.PhysicianShare + 0.5);
            if (isPhysician) physicians++;
            var unit = pool.Units[i % pool.Units.Count];
            var delay = TimeSpan.FromSeconds(config.Clinicians <= 1 ? 0 : config.RampUpSeconds * i / config.Clinicians);
            var session = new ClinicianSession(target.BaseAddress, config, unit, isPhysician, recorder, seed: 17 + i);
            tasks.Add(Task.Run(async () =>
            {
                try { await Task.Delay(delay, stopping); }
                catch (OperationCanceledException) { return; }
                await session.RunAsync(stopping);
            }, CancellationToken.None));
        }
        progress?.WriteLine($"{config.Clinicians} clinicians ({physicians} physicians), lab {config.LabMessagesPerSecond:0.###} ORU/s, FHIR {config.FhirRequestsPerSecond:0.###} req/s, {config.DurationSeconds:0} s");
        var labPatients = pool.Units.SelectMany(u => u.Patients).DistinctBy(p => p.Id).ToList();
        tasks.Add(Task.Run(() => new LabFeed(target.MllpHost, target.MllpPort, config, labPatients, recorder).RunAsync(stopping), CancellationToken.None));
        tasks.Add(Task.Run(() => new FhirIntegration(target.BaseAddress, config, pool, target.Jwt, recorder).RunAsync(stopping), CancellationToken.None));

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
                        progress.WriteLine($"{recorder.Elapsed,5:0} s: {samples.Count} actions, {samples.Count(s => s.Outcome == Outcome.Error)} errors, {samples.Count(s => s.Outcome == Outcome.Shed)} shed");
                    }
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
            }
        }
        var duration = recorder.Elapsed;
        await Task.WhenAll(tasks);
        cancellationToken.ThrowIfCancellationRequested();
        return RehearsalReport.Build(config.Name, startedAt, duration, run, recorder.Samples, sampler.Samples, target.ServerPid, config);
    }

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
