using System.Data.Common;
using System.Globalization;
using Dapper;
using Stadig.Hl7;
using Stadig.Patients;
using Stadig.Patients.Identifiers;

namespace Stadig.LabResults;

/// <summary>Why a result was not bound to a patient: the quarantine worklist shows and sorts by it.</summary>
public enum QuarantineReason
{
    /// <summary>PID-3 carries no personnummer, samordningsnummer or reservnummer.</summary>
    NoIdentifier,
    /// <summary>A national identifier that breaks its rules (check digit, date, kind vs. assigning authority).</summary>
    InvalidIdentifier,
    /// <summary>A valid identifier that no registered patient has.</summary>
    UnknownPatient,
    /// <summary>PID-3 identifiers that lead to different patients.</summary>
    ConflictingIdentifiers,
    /// <summary>PID-5 family name or first given name differs from the registry (or is missing).</summary>
    NameMismatch,
    /// <summary>PID-7 differs from the registry's birth date (or cannot be read).</summary>
    BirthDateMismatch,
    /// <summary>OBR-2 names a Stadig order number that does not exist.</summary>
    UnknownOrder,
    /// <summary>OBR-2 names a Stadig order placed for another patient than PID identifies.</summary>
    OrderPatientMismatch,
}

public sealed record PatientMatchResult(Guid? PatientId, QuarantineReason? Reason, string Detail)
{
    public static PatientMatchResult Matched(Guid patientId) => new(patientId, null, "");
    public static PatientMatchResult Quarantine(QuarantineReason reason, string detail) => new(null, reason, detail);
}

/// <summary>
/// Binds a result's PID segment to exactly one registered patient, or says precisely why not.
/// Identifiers count only with a recognised assigning authority (PID-3.4) or identifier type
/// (PID-3.5); a lab's own record numbers are ignored. Name and birth date must agree with the
/// registry; a merged patient is followed to the surviving record.
/// </summary>
public sealed class PatientMatcher(PatientIdentifierRules rules)
{
    private static readonly Dictionary<string, IdentifierKind> Authorities = new(StringComparer.OrdinalIgnoreCase)
    {
        ["1.2.752.129.2.1.3.1"] = IdentifierKind.Personnummer,
        [PatientIdentifier.PersonnummerSystem] = IdentifierKind.Personnummer,
        ["PNR"] = IdentifierKind.Personnummer,
        ["1.2.752.129.2.1.3.3"] = IdentifierKind.Samordningsnummer,
        [PatientIdentifier.SamordningsnummerSystem] = IdentifierKind.Samordningsnummer,
        ["SAMNR"] = IdentifierKind.Samordningsnummer,
        [PatientIdentifier.ReservnummerSystem] = IdentifierKind.Reservnummer,
        ["RESERVNUMMER"] = IdentifierKind.Reservnummer,
    };

    private static readonly Dictionary<string, IdentifierKind> TypeCodes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["PN"] = IdentifierKind.Personnummer,
        ["NNSWE"] = IdentifierKind.Personnummer,
        ["SAMNR"] = IdentifierKind.Samordningsnummer,
        ["RN"] = IdentifierKind.Reservnummer,
    };

    private sealed class Candidate
    {
        public Guid Id { get; init; }
        public string FamilyName { get; init; } = "";
        public string GivenNames { get; init; } = "";
        public DateOnly? BirthDate { get; init; }
        public Guid? MergedIntoId { get; init; }
    }

    public async Task<PatientMatchResult> MatchAsync(Hl7Message message, DbConnection connection, DbTransaction transaction)
    {
        var pid = message["PID"];
        var identifiers = new List<(PatientIdentifier Identifier, string Sent)>();
        foreach (var cx in pid[3].Repetitions)
        {
            var value = cx[1].Value.Trim();
            if (value.Length == 0) continue;
            var authority = cx[4];
            IdentifierKind? declared =
                Authorities.TryGetValue(authority[2], out var byOid) ? byOid
                : Authorities.TryGetValue(authority[1], out var byNamespace) ? byNamespace
                : TypeCodes.TryGetValue(cx[5].Value, out var byType) ? byType
                : null;
            if (declared is null) continue;
            if (!rules.TryParse(value, out var identifier, out var problem))
                return PatientMatchResult.Quarantine(QuarantineReason.InvalidIdentifier, $"PID-3 {declared}: {problem}");
            if (identifier!.Kind != declared)
                return PatientMatchResult.Quarantine(QuarantineReason.InvalidIdentifier, $"PID-3: numret är ett {identifier.Kind} men utfärdaren anger {declared}.");
            identifiers.Add((identifier, value));
        }
        if (identifiers.Count == 0)
            return PatientMatchResult.Quarantine(QuarantineReason.NoIdentifier, "PID-3 saknar personnummer, samordningsnummer och reservnummer.");

        var found = new List<Candidate>();
        foreach (var (identifier, _) in identifiers)
        {
            var candidate = await FindAsync(connection, transaction, "identifier = @Value", new { identifier.Value });
            if (candidate is null)
                return PatientMatchResult.Quarantine(QuarantineReason.UnknownPatient, $"Ingen patient med {identifier.Kind} {identifier.Display}.");
            found.Add(candidate);
        }

        // Follow merges to the surviving record; the chain is short, the bound guards against a cycle.
        var survivors = new List<Candidate>();
        foreach (var candidate in found)
        {
            var current = candidate;
            for (var hops = 0; current.MergedIntoId is { } next && hops < 10; hops++)
                current = await FindAsync(connection, transaction, "id = @next", new { next }) ?? current;
            survivors.Add(current);
        }
        if (survivors.Select(s => s.Id).Distinct().Count() > 1)
            return PatientMatchResult.Quarantine(QuarantineReason.ConflictingIdentifiers, "PID-3 innehåller nummer som hör till olika patienter.");
        var survivor = survivors[0];
        // The name and birth date sent may be those of the record the number named or of the survivor.
        var acceptable = found.Append(survivor).ToList();

        var family = NameSearch.Fold(pid[5][1][1][1]);
        var given = NameSearch.Words(pid[5][1][2].Value).FirstOrDefault() ?? "";
        if (family.Length == 0 || given.Length == 0)
            return PatientMatchResult.Quarantine(QuarantineReason.NameMismatch, "PID-5 saknar efternamn eller förnamn.");
        if (!acceptable.Any(c => NameSearch.Fold(c.FamilyName) == family && (NameSearch.Words(c.GivenNames).FirstOrDefault() ?? "") == given))
            return PatientMatchResult.Quarantine(QuarantineReason.NameMismatch, "PID-5: namnet stämmer inte med patientregistret.");

        var birth = pid[7].Value.Trim();
        if (birth.Length > 0)
        {
            if (birth.Length < 8 || !DateOnly.TryParseExact(birth[..8], "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var born))
                return PatientMatchResult.Quarantine(QuarantineReason.BirthDateMismatch, "PID-7 är inget giltigt datum.");
            if (!acceptable.Any(c => c.BirthDate == born))
                return PatientMatchResult.Quarantine(QuarantineReason.BirthDateMismatch, "PID-7: födelsedatumet stämmer inte med patientregistret.");
        }
        return PatientMatchResult.Matched(survivor.Id);
    }

    private static Task<Candidate?> FindAsync(DbConnection connection, DbTransaction transaction, string where, object parameters) =>
        connection.QuerySingleOrDefaultAsync<Candidate>(
            $"SELECT id AS Id, family_name AS FamilyName, given_names AS GivenNames, birth_date AS BirthDate, merged_into_id AS MergedIntoId FROM patient WHERE {where}",
            parameters, transaction);
}
