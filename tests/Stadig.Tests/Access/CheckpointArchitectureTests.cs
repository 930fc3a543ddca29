using System.Text.RegularExpressions;
using Stadig.Storage;

namespace Stadig.Tests.Access;

/// <summary>
/// Only through the checkpoint: outside src/Stadig.Core/Access (the checkpoint) and Storage (the
/// connection factory and migrations), no source file may open a database connection itself and run
/// SQL on a patient-owned table (<see cref="PatientOwnedTables.All"/>). Such code takes its connection
/// from the checkpoint's decision instead: a grant's <c>OpenAsync</c> for one patient, or a
/// <c>PatientDataScope</c> for lists and lookups across patients. The compiler keeps the web project
/// out (Database's connections are internal to Core); this test keeps Core's own use cases in line,
/// reading the source as text so that a new file is caught without anyone registering it.
/// </summary>
public partial class CheckpointArchitectureTests
{
    /// <summary>
    /// The files that open connections outside the checkpoint and still reach patient-owned tables, each with why.
    /// Keep it short: a use case that serves a person's request belongs behind the checkpoint instead.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Exceptions = new Dictionary<string, string>
    {
        ["src/Stadig.Core/Results/IngestOruMessage.cs"] =
            "Lab ingest: a machine delivers results with no person asking and nothing shown; it files them on the patient the message names and audits as the system.",
        ["src/Stadig.Core/Results/ResultQuarantine.cs"] =
            "The lab's quarantine: messages no patient has been decided for yet, so no patient's checkpoint applies; lab staff only, each listing and filing audited.",
        ["src/Stadig.Core/Results/MessageTracking.cs"] =
            "The message flow for administrators and lab staff: states, counts and control ids of hl7_message, no record content.",
        ["src/Stadig.Core/Orders/OrderOutbox.cs"] =
            "The order outbox sends queued ORM messages to the lab: a background job with no caller.",
        ["src/Stadig.Core/Fhir/Records/FhirRecordBackfill.cs"] =
            "Publishes the record's existing rows as FHIR resources at start-up: a system job with no caller, nothing shown.",
        ["src/Stadig.Core/Seeding/RegionSeeder.cs"] =
            "Seeds a demo or load-test region with synthetic patients before any user exists.",
        ["src/Stadig.Core/Patients/PatientRegistry.Register.cs"] =
            "Registering a patient records the registering unit's care relation in the same transaction, audited as the registration.",
        ["src/Stadig.Core/Audit/AuditLog.cs"] =
            "The audit log itself: the checkpoint appends through it (audit_event), in the caller's transaction or its own.",
        ["src/Stadig.Core/Audit/AuditCheckpoints.cs"] =
            "The region-wide audit anchor: reads every chain's head through AuditLog to sign them, hashes and counts only.",
        ["src/Stadig.Core/Audit/AuditQueries.cs"] =
            "Log review (loggranskning) reads audit_event under its own rule: log auditors, each review itself audited.",
        ["src/Stadig.Core/Audit/AuditVerifier.cs"] =
            "Verifying the audit chains reads every audit_event in one snapshot; it shows hashes and counts, never content.",
        ["src/Stadig.Core/Downtime/SqliteBackup.cs"] =
            "An operator's backup and restore copy the whole database file page by page (SQLite's online backup) and count its audit events to name the copy; no one's record is read or shown.",
        ["src/Stadig.Core/Training/TrainingExercises.cs"] =
            "A training installation decides an exercise from the trainee's own recorded actions (their audit events, the notes, warnings, merges and quarantine filings they made on their exercise patients); it shows met or not met, never content.",
    };

    /// <summary>The checkpoint and the storage layer, which the rule is about, not under it.</summary>
    private static readonly string[] Exempt = ["src/Stadig.Core/Access/", "src/Stadig.Core/Storage/"];

    /// <summary>Every way of opening a connection without the checkpoint: Database's own, and the drivers' directly.</summary>
    [GeneratedRegex(@"\b(OpenUnscopedAsync|InUnscopedTransactionAsync)\s*(<[^>]*>)?\s*\(|\b\w*[Dd]atabase\s*\.\s*(OpenAsync|InTransactionAsync)\s*(<[^>]*>)?\s*\(|\bnew\s+(Npgsql|Sqlite)Connection\b|\bNpgsqlDataSource\b|\bDbProviderFactories\b")]
    private static partial Regex OpensConnection();

    [GeneratedRegex(@"^\s*(?:(?:public|internal|private|protected|static|sealed|abstract|partial|file|readonly)\s+)*(?:class|record|struct|interface)\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex DeclaresType();

    [Fact]
    public void No_code_outside_the_checkpoint_opens_a_connection_on_a_patient_owned_table()
    {
        var violations = Violations(SourceFiles()).Where(v => !Exceptions.ContainsKey(v.File))
            .Select(v => $"{v.File} opens a connection outside the checkpoint and reaches {string.Join(", ", v.Tables)}: take the connection from the checkpoint's grant or PatientDataScope")
            .ToList();
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }

    [Fact]
    public void Every_exception_to_the_rule_is_still_needed_and_says_why()
    {
        var reaching = Violations(SourceFiles()).Select(v => v.File).ToHashSet();
        Assert.All(Exceptions, e =>
        {
            Assert.True(e.Value.Length > 30, $"{e.Key}: say why it may open its own connection");
            Assert.True(reaching.Contains(e.Key), $"{e.Key} no longer opens a connection on a patient-owned table: take it off the list");
        });
    }

    [Fact]
    public void The_rule_catches_a_use_case_that_opens_its_own_connection_and_reads_notes()
    {
        // What a new file that skipped the checkpoint would look like, by either door.
        var files = new Dictionary<string, string>
        {
            ["src/Stadig.Core/Notes/NoteCounter.cs"] =
                """
                public sealed class NoteCounter(Database database)
                {
                    public async Task<long> CountAsync(Guid patientId)
                    {
                        await using var connection = await database.OpenAsync();
                        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM note WHERE patient_id = @patientId", new { patientId });
                    }
                }
                """,
            ["src/Stadig.Core/Chart/Peek.cs"] =
                """
                sealed class Peek(Database db)
                {
                    Task<int> RunAsync() => db.InUnscopedTransactionAsync<int>((c, t) => c.ExecuteAsync("UPDATE warning SET text = ''", null, t));
                }
                """,
            ["src/Stadig.Core/Chart/ThroughAHelper.cs"] =
                """
                sealed class ThroughAHelper(Database db)
                {
                    async Task RunAsync() { await using var c = await db.OpenUnscopedAsync(); await NoteRows.LoadAsync(c); }
                }
                """,
            ["src/Stadig.Core/Notes/NoteRows.cs"] =
                """
                static class NoteRows { public static Task LoadAsync(DbConnection c) => c.QueryAsync("SELECT * FROM note_keyword"); }
                """,
            ["src/Stadig.Core/Chart/Scoped.cs"] =
                """
                sealed class Scoped(PatientCheckpoint checkpoint)
                {
                    async Task RunAsync(Caller caller) { await using var c = await checkpoint.Scope(caller).OpenAsync(); await c.QueryAsync("SELECT * FROM note"); }
                }
                """,
        };
        var found = Violations(files.Select(f => (f.Key, f.Value)).ToList()).ToDictionary(v => v.File, v => v.Tables);
        Assert.Equal(["note"], found["src/Stadig.Core/Notes/NoteCounter.cs"]);
        Assert.Equal(["warning"], found["src/Stadig.Core/Chart/Peek.cs"]);
        Assert.Equal(["note_keyword"], found["src/Stadig.Core/Chart/ThroughAHelper.cs"]);
        Assert.False(found.ContainsKey("src/Stadig.Core/Notes/NoteRows.cs"));
        Assert.False(found.ContainsKey("src/Stadig.Core/Chart/Scoped.cs"));
    }

    /// <summary>
    /// The files outside the checkpoint that open a connection themselves, with the patient-owned tables
    /// they reach: named in their own SQL, through the table registry, or through a helper type declared in
    /// a file whose SQL names them (the connection handed on).
    /// </summary>
    private static IEnumerable<(string File, IReadOnlyList<string> Tables)> Violations(IReadOnlyList<(string Path, string Text)> files)
    {
        var tableNames = PatientOwnedTables.All.Select(t => t.Name).Distinct().ToList();
        var tablePatterns = tableNames.ToDictionary(t => t, t => new Regex($@"\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+{t}\b", RegexOptions.IgnoreCase));
        IReadOnlyList<string> Named(string text) => text.Contains("PatientOwnedTables", StringComparison.Ordinal)
            ? tableNames
            : tableNames.Where(t => tablePatterns[t].IsMatch(text)).ToList();
        var tablesByType = new Dictionary<string, HashSet<string>>();
        foreach (var (_, text) in files)
        {
            var named = Named(text);
            if (named.Count == 0) continue;
            foreach (Match type in DeclaresType().Matches(text))
            {
                if (!tablesByType.TryGetValue(type.Groups[1].Value, out var set)) tablesByType[type.Groups[1].Value] = set = [];
                set.UnionWith(named);
            }
        }
        foreach (var (path, text) in files)
        {
            if (Exempt.Any(path.StartsWith) || !OpensConnection().IsMatch(text)) continue;
            var own = DeclaresType().Matches(text).Select(m => m.Groups[1].Value).ToHashSet();
            var tables = Named(text).ToHashSet();
            foreach (var (type, reached) in tablesByType)
                if (!own.Contains(type) && Regex.IsMatch(text, $@"\b{type}\s*\.")) tables.UnionWith(reached);
            if (tables.Count > 0) yield return (path, tables.Order(StringComparer.Ordinal).ToList());
        }
    }

    private static List<(string Path, string Text)> SourceFiles()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Stadig.slnx"))) root = Path.GetDirectoryName(root)!;
        return new[] { "src/Stadig.Core", "src/Stadig" }
            .SelectMany(folder => Directory.EnumerateFiles(Path.Combine(root, folder), "*.*", SearchOption.AllDirectories))
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".razor", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal))
            .Select(f => (f, File.ReadAllText(Path.Combine(root, f))))
            .ToList();
    }
}
