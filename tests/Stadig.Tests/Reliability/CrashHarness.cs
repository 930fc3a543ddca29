using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Dapper;
using Microsoft.AspNetCore.Identity;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Notes;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Reliability;

/// <summary>How many kills of which kind, on which engine; the seed makes the kill points and the load's choices again.</summary>
public sealed record CrashRunOptions(DatabaseEngine Engine, int ServerKills, int PostgresKills, int Seed, int MaxAcknowledgedBeforeKill = 30);

/// <summary>
/// The crash-point harness (issue 20, item 3): the real server in its own process under a mixed write
/// load, killed with SIGKILL (or PostgreSQL's processes killed) at a random point, again and again on
/// the same database. After each kill it restarts what was killed and checks the database: every
/// acknowledged write present and intact, no partial record (a signed note without its hash, half a
/// FHIR transaction, a result without its message, half a merge), the audit log's chains intact.
/// </summary>
public sealed class CrashHarness
{
    private const string SigningKey = "crash-point-harness-signing-key-long-enough-for-hs256";
    public const string Password = "krasch-lösen";

    private readonly CrashRunOptions _options;
    private readonly Action<string> _log;
    private readonly Random _random;
    private readonly string _run;
    private int _number;
    private Database _database = null!;

    private CrashHarness(CrashRunOptions options, Action<string> log)
    {
        _options = options;
        _log = log;
        _random = new Random(options.Seed);
        _run = options.Seed.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
    }

    public static Task<CrashReport> RunAsync(CrashRunOptions options, Action<string> log, CancellationToken cancellationToken) =>
        new CrashHarness(options, log).RunAsync(cancellationToken);

    /// <summary>A test personnummer (födelsenummer 980–999) unique within a run for every <paramref name="n"/> below 537,600.</summary>
    public static string Personnummer(int n)
    {
        var days = n / 20;
        return TestNumbers.Personnummer(1920 + days / 336 % 80, 1 + days / 28 % 12, 1 + days % 28, 980 + n % 20);
    }

    private int NextNumber() => Interlocked.Increment(ref _number);

    private async Task<CrashReport> RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await using var postgres = _options.Engine == DatabaseEngine.Postgres && _options.PostgresKills > 0 ? await PostgresServer.StartOwnAsync() : null;
        var connectionString = postgres is not null
            ? await postgres.CreateDatabaseAsync()
            : await TestDatabases.CreateForServerAsync(_options.Engine);
        _database = new Database(_options.Engine, connectionString);
        await new Migrator(_database).MigrateAsync();
        var region = await PrepareAsync(_database, 8, NextNumber, cancellationToken);
        var (services, caller, patients, token, settings) = (region.Services, region.Caller, region.Patients, region.Token, region.ServerSettings);

        var whole = new CrashLedger();
        var findings = new List<string>();
        var errors = new List<string>();
        var filed = Channel.CreateUnbounded<string>();
        var total = _options.ServerKills + _options.PostgresKills;
        int serverKills = 0, postgresKills = 0, deepChecks = 0;
        StadigProcess? server = null;
        try
        {
            for (var round = 0; round < total; round++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                // PostgreSQL's kills spread evenly over the run, between the server's.
                var killPostgres = postgres is not null && (long)(round + 1) * _options.PostgresKills / total > (long)round * _options.PostgresKills / total;
                var pair = (await RegisterAsync(services, caller, "99" + NextNumber().ToString("D10", System.Globalization.CultureInfo.InvariantCulture), cancellationToken),
                    await RegisterAsync(services, caller, Personnummer(NextNumber()), cancellationToken));
                server ??= await StadigProcess.StartAsync(connectionString, settings, cancellationToken);

                var ledger = new CrashLedger();
                var killAt = _random.Next(1, _options.MaxAcknowledgedBeforeKill + 1);
                var acknowledged = 0;
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var current = server;
                CrashLoad load = null!;
                void Acknowledged()
                {
                    if (Interlocked.Increment(ref acknowledged) != killAt) return;
                    load.Killing = true;
                    // The kill point: this write's answer is in, the others' are under way.
                    if (!killPostgres) { current.Kill(); stop.Cancel(); killed.TrySetResult(); }
                    else _ = Task.Run(async () =>
                    {
                        try { await postgres!.KillAsync(); killed.TrySetResult(); }
                        catch (Exception e) { killed.TrySetException(e); }
                        finally { stop.Cancel(); }
                    }, CancellationToken.None);
                }
                load = new CrashLoad(current, token, region.Username, Password, patients, pair, ledger, filed, NextNumber, ReportOfAsync, _run,
                    Acknowledged, new Random(_random.Next()));
                var running = load.RunAsync(stop.Token);
                // A guard against a hang: a load that cannot reach its kill point in this time is a failure of the run.
                var guard = Task.Delay(TimeSpan.FromMinutes(3), cancellationToken);
                if (await Task.WhenAny(killed.Task, guard) == guard)
                {
                    stop.Cancel();
                    await running;
                    throw new TimeoutException($"Round {round}: {acknowledged} of {killAt} writes acknowledged before the guard ran out. Errors: {string.Join("; ", load.Errors.Take(5))}\n{current.Output}");
                }
                await killed.Task;
                await running;
                lock (load.Errors) errors.AddRange(load.Errors.Select(e => $"round {round}: {e}"));

                if (killPostgres)
                {
                    postgresKills++;
                    await postgres!.StartClusterAsync();
                    // This process's own pooled connections died with the backends (a cleared pool is not enough: the
                    // database's data source keeps its own): the checks and the next round's set-up get a fresh one.
                    _database = new Database(_options.Engine, connectionString);
                    services = CoreServices.Create(_database, TimeProvider.System);
                    await server.WaitUntilReadyAsync(cancellationToken);
                }
                else
                {
                    serverKills++;
                    await server.DisposeAsync();
                    // Not held while the next one starts: a start that fails disposes its own process and its
                    // failure (with the server's last lines) is the one to see, not a second dispose of this one.
                    server = null;
                    server = await StadigProcess.StartAsync(connectionString, settings, cancellationToken);
                }

                ledger.AddTo(whole);
                var deep = total <= 100 || round % 10 == 9;
                if (deep) deepChecks++;
                var found = await CheckAsync(_database, ledger, deep, cancellationToken);
                findings.AddRange(found.Select(f => $"round {round} ({(killPostgres ? "PostgreSQL" : "server")} killed after {killAt} acknowledged): {f}"));
                if (round % 25 == 24 || found.Count > 0)
                    _log($"{round + 1}/{total} kill points, {whole.Total} writes acknowledged, {findings.Count} findings");
            }
            // Once more over everything, now that every kill is behind.
            findings.AddRange((await CheckAsync(_database, whole, deep: true, cancellationToken)).Select(f => $"final: {f}"));
        }
        finally
        {
            if (server is not null) await server.DisposeAsync();
        }

        var lost = findings.Count(f => f.Contains(LostMark, StringComparison.Ordinal));
        return new CrashReport(_options.Engine.ToString(), _options.Seed, serverKills, postgresKills, new SortedDictionary<string, long>(whole.Acknowledged),
            whole.Total, lost, findings.Count - lost, deepChecks, findings, errors, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Marks a finding that is an acknowledged write lost (rather than something half written).</summary>
    public const string LostMark = "LOST ";

    /// <summary>A region's care unit, lab and physician on a migrated database, with patients, and the server settings that accept the physician's token.</summary>
    public sealed record LoadRegion(CoreServices Services, Caller Caller, string Username, string Token, List<LoadPatient> Patients, string[] ServerSettings);

    /// <summary>The region the load writes in (the physician signs in with <see cref="Password"/>; the server's settings accept <see cref="LoadRegion.Token"/>).</summary>
    public static async Task<LoadRegion> PrepareAsync(Database database, int patientCount, Func<int> nextNumber, CancellationToken cancellationToken)
    {
        var services = CoreServices.Create(database, TimeProvider.System);
        var provider = await services.Staff.AddProviderAsync("SE2321000016-C001", "Kraschregionen");
        var ward = await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-C002", "Medicinavdelning C", UnitKind.Ward);
        await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-C003", "Klinisk kemi C", UnitKind.Lab);
        var member = await services.Staff.AddStaffAsync("SE2321000016-CLAK", "kraschlakare", "Test Kraschläkare", Role.Physician.Swedish(),
            new PasswordHasher<object>().HashPassword(new object(), Password), isDemo: false);
        await services.Staff.AddAssignmentAsync(member.Id, ward.Id, Role.Physician, Purpose.CareAndTreatment);
        var caller = new Caller(member.Id, member.HsaId, member.DisplayName, Role.Physician, ward.Id, ward.HsaId, Purpose.CareAndTreatment);
        var patients = new List<LoadPatient>();
        for (var i = 0; i < patientCount; i++) patients.Add(await RegisterAsync(services, caller, Personnummer(nextNumber()), cancellationToken));
        string[] settings =
        [
            $"--Stadig:Jwt:SigningKey={SigningKey}", "--Stadig:Jwt:Issuer=test-idp", "--Stadig:Jwt:Audience=stadig",
            "--Stadig:LoginAttemptsPerMinute=1000000", "--Stadig:Admission:QueueWaitMilliseconds=5000", "--Stadig:Admission:IntegrationQueueWaitMilliseconds=5000", "--Stadig:Admission:RequestTimeoutSeconds=300",
        ];
        return new LoadRegion(services, caller, member.Username, Token(member.HsaId, ward.HsaId), patients, settings);
    }

    private static async Task<LoadPatient> RegisterAsync(CoreServices services, Caller caller, string identifier, CancellationToken cancellationToken)
    {
        var family = "Krasch";
        var given = "Test" + identifier[^4..];
        var id = (await services.Patients.RegisterAsync(caller, identifier, new PatientDetails(family, given), cancellationToken)).PatientId;
        await services.Access.RecordCareRelationAsync(caller, id, "Besök", cancellationToken);
        return new LoadPatient(id, identifier, family, given);
    }

    private async Task<Guid?> ReportOfAsync(string controlId, CancellationToken cancellationToken)
    {
        await using var c = await _database.OpenUnscopedAsync(cancellationToken);
        return await c.QueryFirstOrDefaultAsync<Guid?>(
            "SELECT r.id FROM diagnostic_report r JOIN hl7_message m ON m.id = r.message_id WHERE m.control_id = @controlId AND m.direction = 'Inbound'", new { controlId });
    }

    /// <summary>
    /// Every acknowledged write of <paramref name="ledger"/> present and as acknowledged; every write it
    /// sent whole or absent. <paramref name="deep"/> adds the checks over the whole database (every signed
    /// note's hash, every result's message, the audit log's chains).
    /// </summary>
    public static async Task<List<string>> CheckAsync(Database database, CrashLedger ledger, bool deep, CancellationToken cancellationToken)
    {
        var findings = new List<string>();
        await using var c = await database.OpenUnscopedAsync(cancellationToken);

        foreach (var expected in ledger.Notes.Values)
        {
            var rows = (await c.QueryAsync<(string Status, long Version, string? Hash, Guid? AmendsNoteId)>(
                "SELECT status, version, content_sha256, amends_note_id FROM note WHERE id = @id", new { id = expected.Id })).ToList();
            var note = rows.FirstOrDefault();
            if (rows.Count == 0) { findings.Add($"{LostMark}note {expected.Id} ({expected.Status} v{expected.Version}) is missing"); continue; }
            var keywords = (await c.QueryAsync<(string, string)>("SELECT keyword, text FROM note_keyword WHERE note_id = @id ORDER BY position", new { id = expected.Id })).ToList();
            if (note.Version < expected.Version || (expected.Status == NoteStatus.Signed && note.Status != NoteStatus.Signed))
                findings.Add($"{LostMark}note {expected.Id}: acknowledged {expected.Status} v{expected.Version}, stored {note.Status} v{note.Version}");
            else if (note.Version == expected.Version && !keywords.SequenceEqual(expected.Keywords))
                findings.Add($"{LostMark}note {expected.Id} v{note.Version}: the text differs from the acknowledged text");
            if (note.AmendsNoteId != expected.AmendsNoteId)
                findings.Add($"note {expected.Id}: amends {note.AmendsNoteId}, acknowledged as amending {expected.AmendsNoteId}");
            if (note.Status == NoteStatus.Signed && note.Hash != NoteContentHash.Compute(keywords))
                findings.Add($"note {expected.Id}: signed without a hash that matches its text");
        }

        foreach (var (controlId, lines) in ledger.MessagesSent)
        {
            var rows = (await c.QueryAsync<(string State, long Results, long Reports)>(
                """
                SELECT m.state, (SELECT COUNT(*) FROM lab_result r WHERE r.message_id = m.id), (SELECT COUNT(*) FROM diagnostic_report d WHERE d.message_id = m.id)
                FROM hl7_message m WHERE m.control_id = @controlId AND m.direction = 'Inbound'
                """, new { controlId })).ToList();
            var acked = ledger.Messages.ContainsKey(controlId);
            var message = rows.FirstOrDefault();
            if (rows.Count == 0)
            {
                if (acked) findings.Add($"{LostMark}message {controlId} was answered AA and is missing");
                continue;
            }
            if (acked && message.State is not ("Filed" or "Quarantined"))
                findings.Add($"{LostMark}message {controlId} was answered AA and is {message.State}");
            if (message.State == "Filed" && (message.Results != lines || message.Reports != 1))
                findings.Add($"message {controlId} is filed with {message.Results} of its {lines} results and {message.Reports} reports");
            if (message.State != "Filed" && message.Results > 0)
                findings.Add($"message {controlId} is {message.State} with {message.Results} results filed");
        }

        foreach (var (marker, personnummer) in ledger.TransactionsSent)
        {
            var observations = (await c.QueryAsync<string>(
                "SELECT content FROM fhir_resource WHERE resource_type = 'Observation' AND content LIKE @pattern", new { pattern = $"%{marker}/%" })).ToList();
            var subjects = observations.Select(o => JsonNode.Parse(o)?["subject"]?["reference"]?.GetValue<string>() ?? "").Distinct().ToList();
            var patientsStored = 0L;
            foreach (var subject in subjects.Where(s => s.StartsWith("Patient/", StringComparison.Ordinal)))
                patientsStored += await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Patient' AND id = @id", new { id = subject["Patient/".Length..] });
            var digits = personnummer.Replace("-", "", StringComparison.Ordinal);
            var patientByNumber = await c.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Patient' AND (content LIKE @digits OR content LIKE @dashed)",
                new { digits = $"%{digits}%", dashed = $"%{personnummer}%" });
            var acked = ledger.Transactions.ContainsKey(marker);
            if (acked && (observations.Count != 2 || patientsStored != 1))
                findings.Add($"{LostMark}transaction {marker} was answered 200; stored: {observations.Count} of 2 observations, {patientsStored} patients");
            else if (observations.Count is not (0 or 2) || (observations.Count == 2) != (patientsStored == 1 && subjects.Count == 1) || (observations.Count == 0) != (patientByNumber == 0))
                findings.Add($"transaction {marker} is half there: {observations.Count} of 2 observations, {patientsStored} referenced patients, {patientByNumber} with its number");
        }

        foreach (var report in ledger.Attested.Keys)
            if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM diagnostic_report WHERE id = @report AND attested_at IS NOT NULL", new { report }) != 1)
                findings.Add($"{LostMark}report {report} was attested (acknowledged) and is not");

        foreach (var (source, target) in ledger.MergesTried)
        {
            var intoTarget = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE id = @source AND merged_into_id = @target", new { source, target });
            var merged = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE id = @source AND merged_into_id IS NOT NULL", new { source });
            var records = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient_merge WHERE source_patient_id = @source AND target_patient_id = @target", new { source, target });
            if (ledger.Merges.ContainsKey(source) && intoTarget != 1)
                findings.Add($"{LostMark}merge of {source} was answered 200 and the patient is not merged");
            if (merged != intoTarget || intoTarget != records)
                findings.Add($"merge of {source}: merged {merged}, into its target {intoTarget}, {records} merge records");
            if (merged == 0) continue;
            foreach (var table in PatientOwnedTables.All.Where(t => t.MergeAction == PatientMergeAction.RePoint))
            {
                var left = await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table.Name} WHERE {table.PatientColumn} = @source", new { source });
                if (left > 0) findings.Add($"merge of {source}: {left} rows of {table.Name} left with the merged patient");
            }
        }

        if (!deep) return findings;
        var unsealed = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM note WHERE status = 'Signed' AND (content_sha256 IS NULL OR content_sha256 = '')");
        if (unsealed > 0) findings.Add($"{unsealed} signed notes without a hash");
        var signed = (await c.QueryAsync<(Guid, string)>("SELECT id, content_sha256 FROM note WHERE status = 'Signed'")).ToList();
        var texts = (await c.QueryAsync<(Guid NoteId, string Keyword, string Text)>(
            "SELECT k.note_id, k.keyword, k.text FROM note_keyword k JOIN note n ON n.id = k.note_id WHERE n.status = 'Signed' ORDER BY k.note_id, k.position"))
            .GroupBy(k => k.NoteId).ToDictionary(g => g.Key, g => NoteContentHash.Compute(g.Select(k => (k.Keyword, k.Text))));
        var broken = signed.Count(s => texts.GetValueOrDefault(s.Item1, NoteContentHash.Compute([])) != s.Item2);
        if (broken > 0) findings.Add($"{broken} signed notes whose text does not match their hash");
        var orphans = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM lab_result WHERE message_id IS NULL OR report_id IS NULL");
        if (orphans > 0) findings.Add($"{orphans} results without their message or report");
        var empty = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM diagnostic_report d WHERE NOT EXISTS (SELECT 1 FROM lab_result r WHERE r.report_id = d.id)");
        if (empty > 0) findings.Add($"{empty} reports without results");
        var filedEmpty = await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM hl7_message m WHERE m.direction = 'Inbound' AND m.state = 'Filed' AND NOT EXISTS (SELECT 1 FROM lab_result r WHERE r.message_id = m.id)");
        if (filedEmpty > 0) findings.Add($"{filedEmpty} filed messages without results");
        var verification = await new AuditVerifier(database).VerifyAsync(cancellationToken);
        findings.AddRange(verification.Findings.Take(10).Select(f => $"audit chain {f.ChainKey} at {f.ChainSeq}: {f.Kind} ({f.Explanation})"));
        return findings;
    }

    private static string Token(string hsaId, string unitHsaId) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "test-idp", Audience = "stadig", Expires = DateTime.UtcNow.AddDays(2),
        Claims = new Dictionary<string, object> { ["hsa_id"] = hsaId, ["unit_hsa_id"] = unitHsaId, ["role"] = "Physician", ["scope"] = "user/*.*" },
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(SigningKey)), SecurityAlgorithms.HmacSha256),
    });
}
