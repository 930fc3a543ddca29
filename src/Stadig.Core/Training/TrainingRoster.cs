using System.Text.RegularExpressions;
using Dapper;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Training;

/// <summary>One person of the production staff directory, with the role and unit their training is counted under.</summary>
public sealed record RosterLine(int LineNumber, string HsaId, string Username, string Name, string Title, Role Role, string UnitHsaId, string UnitName);

/// <summary>A staff directory file with errors: nothing of it is imported.</summary>
public sealed class RosterFileException(IReadOnlyList<string> errors)
    : StadigException($"The staff directory file has {errors.Count} error(s); nothing was imported.\n" + string.Join('\n', errors.Take(50)))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

public sealed record RosterImportResult(int People, int NewStaff, int NewUnits);

/// <summary>
/// The list of who must be trained: the production installation's staff directory, exported as a
/// file and imported into the training installation (stadig training-import). Everyone on it gets a
/// practice account there (a training login, refused by any production installation) and is counted
/// in the training report under the role and unit the file gives.
/// </summary>
public sealed partial class TrainingRoster(Database database, StaffDirectory staff, TimeProvider clock)
{
    public static readonly string[] Columns = ["hsa_id", "username", "name", "title", "role", "unit_hsa_id", "unit_name"];

    /// <summary>
    /// Reads the file: UTF-8, a header line with <see cref="Columns"/> in any order, fields separated by
    /// semicolons. Every problem is named by line and column; a file with any problem imports nothing.
    /// </summary>
    public static IReadOnlyList<RosterLine> Read(TextReader reader)
    {
        var errors = new List<string>();
        var header = reader.ReadLine()?.TrimStart('\uFEFF');
        if (header is null) throw new RosterFileException(["line 1: the file is empty"]);
        var names = header.Split(';').Select(h => h.Trim().ToLowerInvariant()).ToList();
        foreach (var missing in Columns.Where(c => !names.Contains(c))) errors.Add($"line 1, column {missing}: required column is missing");
        foreach (var unknown in names.Where(n => !Columns.Contains(n))) errors.Add($"line 1, column {unknown}: unknown column (expected {string.Join(";", Columns)})");
        if (errors.Count > 0) throw new RosterFileException(errors);

        var lines = new List<RosterLine>();
        var seenHsa = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var seenUser = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var number = 1;
        while (reader.ReadLine() is { } text)
        {
            number++;
            if (text.Trim().Length == 0) continue;
            var fields = text.Split(';');
            if (fields.Length != names.Count)
            {
                errors.Add($"line {number}: {fields.Length} fields, the header has {names.Count}");
                continue;
            }
            string Field(string column) => fields[names.IndexOf(column)].Trim();
            var before = errors.Count;
            foreach (var column in Columns.Where(c => Field(c).Length == 0)) errors.Add($"line {number}, column {column}: empty");
            if (Field("hsa_id").Length > 0 && !HsaId().IsMatch(Field("hsa_id"))) errors.Add($"line {number}, column hsa_id: \"{Field("hsa_id")}\" is not an HSA-id (SE + 10 digits + '-' + local part)");
            if (Field("unit_hsa_id").Length > 0 && !HsaId().IsMatch(Field("unit_hsa_id"))) errors.Add($"line {number}, column unit_hsa_id: \"{Field("unit_hsa_id")}\" is not an HSA-id");
            var role = ParseRole(Field("role"));
            if (role is null && Field("role").Length > 0) errors.Add($"line {number}, column role: \"{Field("role")}\" is not a role (expected one of {string.Join(", ", Enum.GetNames<Role>())}, or its Swedish name)");
            if (Field("hsa_id").Length > 0 && !seenHsa.Add(Field("hsa_id"))) errors.Add($"line {number}, column hsa_id: {Field("hsa_id")} is on an earlier line too");
            if (Field("username").Length > 0 && !seenUser.Add(Field("username"))) errors.Add($"line {number}, column username: {Field("username")} is on an earlier line too");
            if (errors.Count == before)
                lines.Add(new RosterLine(number, Field("hsa_id"), Field("username").ToLowerInvariant(), Field("name"), Field("title"), role!.Value, Field("unit_hsa_id"), Field("unit_name")));
        }
        if (errors.Count > 0) throw new RosterFileException(errors);
        return lines;
    }

    private static Role? ParseRole(string text) =>
        Enum.TryParse<Role>(text, ignoreCase: true, out var role) && Enum.IsDefined(role) ? role
        : Enum.GetValues<Role>().Cast<Role?>().FirstOrDefault(r => string.Equals(r!.Value.Swedish(), text, StringComparison.OrdinalIgnoreCase));

    [GeneratedRegex(@"^SE[0-9]{10}-[A-Za-z0-9]{1,20}$")]
    private static partial Regex HsaId();

    /// <summary>
    /// Adds whoever is new (a practice account with <paramref name="passwordHash"/>), the units that are
    /// missing, the assignment, and the person's row in the roster. Safe to re-run: a person already
    /// there keeps their account and progress; their role and unit follow the file.
    /// </summary>
    public async Task<RosterImportResult> ImportAsync(IReadOnlyList<RosterLine> lines, string passwordHash, CancellationToken cancellationToken = default)
    {
        var units = (await staff.UnitsAsync(cancellationToken)).ToDictionary(u => u.HsaId, StringComparer.OrdinalIgnoreCase);
        if (units.Count == 0) throw new InvalidInputException("database", "The training database has no region yet: start it once with 'stadig training' first.");
        var providerId = units.Values.First().ProviderId;
        int newStaff = 0, newUnits = 0;
        foreach (var line in lines)
        {
            if (!units.TryGetValue(line.UnitHsaId, out var unit))
            {
                unit = await staff.AddUnitAsync(providerId, line.UnitHsaId, line.UnitName, line.Role == Role.LabStaff ? UnitKind.Lab : UnitKind.Ward, cancellationToken);
                units[unit.HsaId] = unit;
                newUnits++;
            }
            var member = await staff.FindByHsaIdAsync(line.HsaId, cancellationToken);
            if (member is null)
            {
                member = await staff.AddStaffAsync(line.HsaId, line.Username, line.Name, line.Title, passwordHash, isDemo: true, cancellationToken);
                newStaff++;
            }
            var unitId = unit.Id;
            if ((await staff.AssignmentsOfAsync(member.Id, cancellationToken)).All(a => a.UnitId != unitId || a.Role != line.Role))
            {
                var purpose = Access.RolePermissions.WorksWithRecords(line.Role) ? Purpose.CareAndTreatment : Purpose.Administration;
                await staff.AddAssignmentAsync(member.Id, unitId, line.Role, purpose, cancellationToken);
            }
            await AddAsync(member.Id, unitId, line.Role, cancellationToken);
        }
        return new RosterImportResult(lines.Count, newStaff, newUnits);
    }

    /// <summary>Puts one person on the roster (or moves them to another role or unit).</summary>
    public async Task AddAsync(Guid staffId, Guid unitId, Role role, CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        await c.ExecuteAsync(
            """
            INSERT INTO training_roster (staff_id, unit_id, role, imported_at) VALUES (@staffId, @unitId, @role, @now)
            ON CONFLICT (staff_id) DO UPDATE SET unit_id = excluded.unit_id, role = excluded.role, imported_at = excluded.imported_at
            """, new { staffId, unitId, role = role.ToString(), now = clock.GetUtcNow() });
    }
}
