using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Patients.Identifiers;

namespace Stadig.Patients;

public sealed partial class PatientRegistry
{
    /// <summary>
    /// Updates name, address, contact, protection and deceased date. <paramref name="expectedVersion"/>
    /// is the version the person saw: if someone else changed the patient since, nothing is written
    /// and the answer is a conflict. The identity number itself never changes here (see merge).
    /// </summary>
    public async Task<Patient> UpdateAsync(Caller caller, Guid patientId, int expectedVersion, PatientDetails details, CancellationToken cancellationToken = default)
    {
        return await checkpoint.WriteAsync(caller, patientId, "Patient", AuditActivity.Write,
            (connection, transaction, grant) => UpdateInAsync(grant, connection, transaction, expectedVersion, details), cancellationToken);
    }

    /// <summary><see cref="UpdateAsync"/> inside a transaction the caller holds, with the checkpoint's grant for it.</summary>
    public async Task<Patient> UpdateInAsync(PatientAccessGrant grant, DbConnection connection, DbTransaction transaction, int expectedVersion, PatientDetails details)
    {
        var patientId = grant.PatientId;
        {
            var current = await FindAsync(connection, transaction, patientId) ?? throw new NotFoundException("Patienten finns inte.");
            if (current.MergedIntoId is not null)
                throw new ConflictException("Patienten är sammanslagen med en annan patient; ändra uppgifterna där.");
            var identifier = identifiers.Parse(current.Identifier);
            var valid = Validate(details, identifier);

            var updated = await connection.ExecuteAsync(
                """
                UPDATE patient SET family_name = @FamilyName, given_names = @GivenNames, family_search = @familySearch, family_last_search = @familyLastSearch,
                    given_search = @givenSearch, given_last_search = @givenLastSearch, birth_date = @BirthDate, sex = @sex, address_line = @AddressLine,
                    postal_code = @PostalCode, city = @City, phone = @Phone, email = @Email,
                    protected_identity = @protectedIdentity, deceased_date = @DeceasedDate,
                    version = version + 1, updated_at = @now
                WHERE id = @patientId AND version = @expectedVersion
                """,
                new
                {
                    patientId, expectedVersion, valid.FamilyName, valid.GivenNames,
                    familySearch = NameSearch.Fold(valid.FamilyName), familyLastSearch = NameSearch.LastWord(valid.FamilyName),
                    givenSearch = NameSearch.Fold(valid.GivenNames), givenLastSearch = NameSearch.LastWord(valid.GivenNames),
                    valid.BirthDate, sex = (valid.Sex ?? Sex.Unknown).ToString(), valid.AddressLine, valid.PostalCode,
                    valid.City, valid.Phone, valid.Email, protectedIdentity = valid.ProtectedIdentity.ToString(),
                    valid.DeceasedDate, now = clock.GetUtcNow(),
                }, transaction);
            if (updated == 0)
                throw new ConflictException("Någon annan har ändrat patientens uppgifter sedan du öppnade dem. Ladda om och gör ändringen igen.");
            return (await FindAsync(connection, transaction, patientId))!;
        }
    }
}
