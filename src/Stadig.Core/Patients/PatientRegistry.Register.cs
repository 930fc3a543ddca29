using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Patients.Identifiers;

namespace Stadig.Patients;

/// <summary>
/// The outcome of a registration. <see cref="Patient"/> is set only when this call created the
/// patient: for a number already registered the caller learns the id, and reads the rest through
/// the checkpoint like any other access.
/// </summary>
public sealed record RegisterPatientResult(Guid PatientId, bool Created, Patient? Patient);

public sealed partial class PatientRegistry
{
    /// <summary>
    /// Registers a patient, or leads to the one already registered with that number: a number is
    /// never registered twice, also when two requests race (the unique index decides). Registering
    /// gives the caller's unit a care relation with the new patient; both are audited with the write.
    /// </summary>
    public Task<RegisterPatientResult> RegisterAsync(Caller caller, string identifierInput, PatientDetails details, CancellationToken cancellationToken = default)
    {
        // Checked before the transaction opens, so a refusal or a typing error costs no write lock.
        CheckRegistration(caller, identifierInput, details);
        return database.InUnscopedTransactionAsync((connection, transaction) => RegisterInAsync(connection, transaction, caller, identifierInput, details), cancellationToken);
    }

    private void CheckRegistration(Caller caller, string identifierInput, PatientDetails details)
    {
        if (!RolePermissions.WorksWithRegistry(caller.Role)) throw new ForbiddenException("Din roll får inte registrera patienter.");
        Validate(details, identifiers.Parse(identifierInput));
    }

    /// <summary>
    /// <see cref="RegisterAsync(Caller, string, PatientDetails, CancellationToken)"/> inside a transaction the caller holds (a FHIR transaction bundle:
    /// the patient and their records are stored together or not at all). <paramref name="id"/> keeps
    /// the id another system gave the patient (a FHIR import), so its references stay true, and
    /// <paramref name="version"/> the version it had there, so an import gives back what was exported.
    /// </summary>
    public async Task<RegisterPatientResult> RegisterInAsync(DbConnection connection, DbTransaction transaction, Caller caller,
        string identifierInput, PatientDetails details, Guid? id = null, int version = 1)
    {
        if (!RolePermissions.WorksWithRegistry(caller.Role)) throw new ForbiddenException("Din roll får inte registrera patienter.");
        var identifier = identifiers.Parse(identifierInput);
        var valid = Validate(details, identifier);
        var now = clock.GetUtcNow();
        var newId = id ?? Guid.NewGuid();
        {
            // The new row comes back from the insert itself (RETURNING): no second read of what was just written.
            // The registering unit's care relation goes in the same round trip, for a patient the insert made
            // (none when the number was already registered: the insert did nothing, so no row has the new id).
            var parameters = new DynamicParameters(new
            {
                id = newId, kind = identifier.Kind.ToString(), identifier.Value, shortForm = identifier.ShortForm,
                valid.FamilyName, valid.GivenNames, familySearch = NameSearch.Fold(valid.FamilyName), familyLastSearch = NameSearch.LastWord(valid.FamilyName),
                givenSearch = NameSearch.Fold(valid.GivenNames), givenLastSearch = NameSearch.LastWord(valid.GivenNames), valid.BirthDate, sex = (valid.Sex ?? Sex.Unknown).ToString(),
                valid.AddressLine, valid.PostalCode, valid.City, valid.Phone, valid.Email,
                protectedIdentity = valid.ProtectedIdentity.ToString(), valid.DeceasedDate, now, version,
            });
            var relation = caller.UnitId == Guid.Empty ? "" :
                """
                ;
                INSERT INTO care_relation (id, patient_id, unit_id, reason, created_at, created_by, ends_at)
                SELECT @relation, @id, @unitId, 'Registrering', @now, @staffId, @endsAt WHERE EXISTS (SELECT 1 FROM patient WHERE id = @id AND created_at = @now)
                """;
            if (relation.Length > 0)
                parameters.AddDynamicParams(new { relation = Guid.NewGuid(), unitId = caller.UnitId, staffId = caller.StaffId, endsAt = now.AddDays(checkpoint.Options.CareRelationDays) });
            Patient? patient;
            using (var inserted = await connection.QueryMultipleAsync(
                $"""
                INSERT INTO patient (id, identifier_kind, identifier, identifier_short, family_name, given_names,
                    family_search, family_last_search, given_search, given_last_search, birth_date, sex, address_line, postal_code, city, phone, email,
                    protected_identity, deceased_date, version, created_at, updated_at)
                VALUES (@id, @kind, @Value, @shortForm, @FamilyName, @GivenNames, @familySearch, @familyLastSearch, @givenSearch, @givenLastSearch,
                    @BirthDate, @sex, @AddressLine, @PostalCode, @City, @Phone, @Email, @protectedIdentity,
                    @DeceasedDate, @version, @now, @now)
                ON CONFLICT (identifier) DO NOTHING
                RETURNING {PatientColumns}{relation}
                """, parameters, transaction))
            {
                patient = await inserted.ReadSingleOrDefaultAsync<Patient>();
            }

            if (patient is null)
            {
                var existing = await connection.QuerySingleAsync<Guid>("SELECT id FROM patient WHERE identifier = @Value", new { identifier.Value }, transaction);
                await audit.AppendAsync(new AuditEntry(caller, existing, AuditActivity.Read, "PatientRegistration", AuditOutcome.Allowed,
                    Detail: "Numret var redan registrerat"), connection, transaction);
                return new RegisterPatientResult(existing, Created: false, Patient: null);
            }
            await audit.AppendAsync(new AuditEntry(caller, newId, AuditActivity.Write, "Patient",
                Flags: valid.ProtectedIdentity != ProtectedIdentity.None ? AuditFlags.ProtectedIdentity : AuditFlags.None), connection, transaction);
            return new RegisterPatientResult(newId, Created: true, patient);
        }
    }

    /// <summary>
    /// A reservnummer for a patient another system sent without a Swedish identity number (a FHIR
    /// import from abroad): 99 followed by ten digits, the national default format, unused so far.
    /// Null when the region has its own reservnummer format, which Stadig cannot make up.
    /// </summary>
    public async Task<string?> NewReservnummerAsync(DbConnection connection, DbTransaction transaction)
    {
        if (!identifiers.ReservnummerIsDefault) return null;
        while (true)
        {
            var candidate = "99" + System.Security.Cryptography.RandomNumberGenerator.GetInt32(0, 1_000_000_000).ToString("D10", System.Globalization.CultureInfo.InvariantCulture);
            var taken = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE identifier = @candidate", new { candidate }, transaction);
            if (taken == 0) return candidate;
        }
    }
}
