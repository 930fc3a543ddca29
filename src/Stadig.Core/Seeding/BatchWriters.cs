using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using Stadig.Storage;

namespace Stadig.Seeding;

/// <summary>Stores one batch of generated rows in one transaction.</summary>
internal interface IBatchWriter : IAsyncDisposable
{
    Task WriteAsync(Batch batch, CancellationToken cancellationToken);
}

/// <summary>
/// PostgreSQL: binary COPY per table, all tables of a batch in one transaction. COPY skips the
/// per-statement parse/plan/round trip that makes row-by-row inserts of millions of rows slow.
/// </summary>
internal sealed class PostgresBatchWriter(NpgsqlConnection connection) : IBatchWriter
{
    public async Task WriteAsync(Batch batch, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await CopyAsync(
            "patient (id, identifier_kind, identifier, identifier_short, family_name, given_names, family_search, family_last_search, given_search, given_last_search, birth_date, sex, address_line, postal_code, city, phone, email, protected_identity, deceased_date, merged_into_id, version, created_at, updated_at)",
            batch.Patients, (w, p) =>
            {
                w.Write(p.Id, NpgsqlDbType.Uuid);
                Text(w, p.IdentifierKind); Text(w, p.Identifier); Text(w, p.IdentifierShort); Text(w, p.FamilyName); Text(w, p.GivenNames);
                Text(w, p.FamilySearch); Text(w, p.FamilyLastSearch); Text(w, p.GivenSearch); Text(w, p.GivenLastSearch);
                Date(w, p.BirthDate); Text(w, p.Sex); Text(w, p.AddressLine); Text(w, p.PostalCode); Text(w, p.City);
                Text(w, p.Phone); Text(w, p.Email); Text(w, p.ProtectedIdentity); Date(w, p.DeceasedDate);
                w.WriteNull();
                w.Write(1, NpgsqlDbType.Integer);
                Time(w, p.CreatedAt); Time(w, p.CreatedAt);
            }, cancellationToken);
        await CopyAsync("encounter (id, patient_id, unit_id, kind, bed, started_at, ended_at)", batch.Encounters, (w, e) =>
        {
            w.Write(e.Id, NpgsqlDbType.Uuid); w.Write(e.PatientId, NpgsqlDbType.Uuid); w.Write(e.UnitId, NpgsqlDbType.Uuid);
            Text(w, e.Kind); Text(w, e.Bed); Time(w, e.StartedAt); Time(w, e.EndedAt);
        }, cancellationToken);
        await CopyAsync("note (id, patient_id, encounter_id, unit_id, note_type, status, author_id, signer_id, signed_at, content_sha256, created_at)", batch.Notes, (w, n) =>
        {
            w.Write(n.Id, NpgsqlDbType.Uuid); w.Write(n.PatientId, NpgsqlDbType.Uuid); Uuid(w, n.EncounterId); w.Write(n.UnitId, NpgsqlDbType.Uuid);
            Text(w, n.NoteType); Text(w, n.Status); w.Write(n.AuthorId, NpgsqlDbType.Uuid); Uuid(w, n.SignerId); Time(w, n.SignedAt);
            Text(w, n.ContentSha256); Time(w, n.CreatedAt);
        }, cancellationToken);
        await CopyAsync("note_keyword (note_id, patient_id, position, keyword, text)", batch.Keywords, (w, k) =>
        {
            w.Write(k.NoteId, NpgsqlDbType.Uuid); w.Write(k.PatientId, NpgsqlDbType.Uuid); w.Write(k.Position, NpgsqlDbType.Integer);
            Text(w, k.Keyword); Text(w, k.Text);
        }, cancellationToken);
        await CopyAsync("lab_result (id, patient_id, unit_id, analysis_code, analysis_name, value_numeric, value_text, unit, reference_low, reference_high, abnormal_flag, status, observed_at)", batch.Results, (w, r) =>
        {
            w.Write(r.Id, NpgsqlDbType.Uuid); w.Write(r.PatientId, NpgsqlDbType.Uuid); w.Write(r.UnitId, NpgsqlDbType.Uuid);
            Text(w, r.AnalysisCode); Text(w, r.AnalysisName); Double(w, r.ValueNumeric); Text(w, r.ValueText); Text(w, r.Unit);
            Double(w, r.ReferenceLow); Double(w, r.ReferenceHigh); Text(w, r.AbnormalFlag); Text(w, r.Status); Time(w, r.ObservedAt);
        }, cancellationToken);
        await CopyAsync("warning (id, patient_id, unit_id, category, text, agent, reaction, severity, certainty, created_at, created_by)", batch.Warnings, (w, x) =>
        {
            w.Write(x.Id, NpgsqlDbType.Uuid); w.Write(x.PatientId, NpgsqlDbType.Uuid); w.Write(x.UnitId, NpgsqlDbType.Uuid);
            Text(w, x.Category); Text(w, x.Text); Text(w, x.Agent); Text(w, x.Reaction); Text(w, x.Severity); Text(w, x.Certainty);
            Time(w, x.CreatedAt); w.Write(x.CreatedBy, NpgsqlDbType.Uuid);
        }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private async Task CopyAsync<T>(string target, List<T> rows, Action<NpgsqlBinaryImporter, T> write, CancellationToken cancellationToken)
    {
        if (rows.Count == 0) return;
        await using var importer = await connection.BeginBinaryImportAsync($"COPY {target} FROM STDIN (FORMAT BINARY)", cancellationToken);
        // A bulk load has no natural deadline: on a loaded machine the server may take longer than the
        // connection's command timeout to finish a batch, and the operator cancels a seed, not a timer.
        importer.Timeout = TimeSpan.Zero;
        foreach (var row in rows)
        {
            // Synchronous writes into Npgsql's buffer: an await per value would cost more than the value.
            importer.StartRow();
            write(importer, row);
        }
        await importer.CompleteAsync(cancellationToken);
    }

    private static void Text(NpgsqlBinaryImporter w, string? value)
    {
        if (value is null) w.WriteNull(); else w.Write(value, NpgsqlDbType.Text);
    }

    private static void Uuid(NpgsqlBinaryImporter w, Guid? value)
    {
        if (value is { } v) w.Write(v, NpgsqlDbType.Uuid); else w.WriteNull();
    }

    private static void Date(NpgsqlBinaryImporter w, DateOnly? value)
    {
        if (value is { } v) w.Write(v, NpgsqlDbType.Date); else w.WriteNull();
    }

    private static void Time(NpgsqlBinaryImporter w, DateTimeOffset? value)
    {
        if (value is { } v) w.Write(v.UtcDateTime, NpgsqlDbType.TimestampTz); else w.WriteNull();
    }

    private static void Double(NpgsqlBinaryImporter w, double? value)
    {
        if (value is { } v) w.Write(v, NpgsqlDbType.Double); else w.WriteNull();
    }

    public ValueTask DisposeAsync() => connection.DisposeAsync();
}

/// <summary>
/// SQLite: one transaction per batch with one prepared INSERT per table, re-used for every row
/// (only the parameter values change). Values are written in the text forms the type handlers use.
/// </summary>
internal sealed class SqliteBatchWriter : IBatchWriter
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _patient, _encounter, _note, _keyword, _result, _warning;

    public SqliteBatchWriter(SqliteConnection connection)
    {
        _connection = connection;
        _patient = Prepare("patient", "id, identifier_kind, identifier, identifier_short, family_name, given_names, family_search, family_last_search, given_search, given_last_search, birth_date, sex, address_line, postal_code, city, phone, email, protected_identity, deceased_date, version, created_at, updated_at");
        _encounter = Prepare("encounter", "id, patient_id, unit_id, kind, bed, started_at, ended_at");
        _note = Prepare("note", "id, patient_id, encounter_id, unit_id, note_type, status, author_id, signer_id, signed_at, content_sha256, created_at");
        _keyword = Prepare("note_keyword", "note_id, patient_id, position, keyword, text");
        _result = Prepare("lab_result", "id, patient_id, unit_id, analysis_code, analysis_name, value_numeric, value_text, unit, reference_low, reference_high, abnormal_flag, status, observed_at");
        _warning = Prepare("warning", "id, patient_id, unit_id, category, text, agent, reaction, severity, certainty, created_at, created_by");
    }

    private SqliteCommand Prepare(string table, string columns)
    {
        var names = columns.Split(',', StringSplitOptions.TrimEntries);
        var command = _connection.CreateCommand();
        command.CommandText = $"INSERT INTO {table} ({columns}) VALUES ({string.Join(", ", names.Select((_, i) => "$p" + i.ToString(CultureInfo.InvariantCulture)))})";
        for (var i = 0; i < names.Length; i++) command.Parameters.Add(new SqliteParameter("$p" + i.ToString(CultureInfo.InvariantCulture), DBNull.Value));
        return command;
    }

    public async Task WriteAsync(Batch batch, CancellationToken cancellationToken)
    {
        // Immediate: take the write lock up front, as Database does for every writer.
        await using var transaction = _connection.BeginTransaction(deferred: false);
        foreach (var command in new[] { _patient, _encounter, _note, _keyword, _result, _warning })
        {
            command.Transaction = transaction;
            command.Prepare();
        }
        foreach (var p in batch.Patients)
            Run(_patient, p.Id, p.IdentifierKind, p.Identifier, p.IdentifierShort, p.FamilyName, p.GivenNames, p.FamilySearch,
                p.FamilyLastSearch, p.GivenSearch, p.GivenLastSearch, p.BirthDate, p.Sex, p.AddressLine, p.PostalCode, p.City, p.Phone, p.Email,
                p.ProtectedIdentity, p.DeceasedDate, 1, p.CreatedAt, p.CreatedAt);
        foreach (var e in batch.Encounters)
            Run(_encounter, e.Id, e.PatientId, e.UnitId, e.Kind, e.Bed, e.StartedAt, e.EndedAt);
        foreach (var n in batch.Notes)
            Run(_note, n.Id, n.PatientId, n.EncounterId, n.UnitId, n.NoteType, n.Status, n.AuthorId, n.SignerId, n.SignedAt, n.ContentSha256, n.CreatedAt);
        foreach (var k in batch.Keywords)
            Run(_keyword, k.NoteId, k.PatientId, k.Position, k.Keyword, k.Text);
        foreach (var r in batch.Results)
            Run(_result, r.Id, r.PatientId, r.UnitId, r.AnalysisCode, r.AnalysisName, r.ValueNumeric, r.ValueText, r.Unit,
                r.ReferenceLow, r.ReferenceHigh, r.AbnormalFlag, r.Status, r.ObservedAt);
        foreach (var w in batch.Warnings)
            Run(_warning, w.Id, w.PatientId, w.UnitId, w.Category, w.Text, w.Agent, w.Reaction, w.Severity, w.Certainty, w.CreatedAt, w.CreatedBy);
        await transaction.CommitAsync(cancellationToken);
    }

    private static void Run(SqliteCommand command, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = ToSqlite(values[i]);
        command.ExecuteNonQuery();
    }

    private static object ToSqlite(object? value) => value switch
    {
        null => DBNull.Value,
        Guid g => g.ToString(),
        DateTimeOffset t => TypeHandlers.ToSqliteText(t),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        _ => value,
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var command in new[] { _patient, _encounter, _note, _keyword, _result, _warning }) await command.DisposeAsync();
        await _connection.DisposeAsync();
    }
}

internal static class BatchWriter
{
    public static async Task<IBatchWriter> OpenAsync(Database database, CancellationToken cancellationToken)
    {
        DbConnection connection = await database.OpenUnscopedAsync(cancellationToken);
        return CountedConnection.Unwrap(connection) switch
        {
            NpgsqlConnection pg => new PostgresBatchWriter(pg),
            SqliteConnection lite => new SqliteBatchWriter(lite),
            _ => throw new NotSupportedException(connection.GetType().Name),
        };
    }
}
