using System.Collections;
using System.Data;
using System.Data.Common;

namespace Stadig.Storage;

/// <summary>
/// The engine's reader, with its failures translated as the command's own are (<see cref="CountedConnection.Translate"/>).
/// A batch answers its first result as soon as it has it; a statement after that one (the audit append after a
/// read, a note's new text after its guarded UPDATE) fails while its results are read or the reader is closed,
/// and such a failure means what it would have meant alone: a deadlock is 503 with Retry-After, a NUL in a
/// text names the text, never a 500.
/// </summary>
internal sealed class TranslatingDataReader(DbDataReader inner, CountedConnection connection) : DbDataReader
{
    // Each written out, not through a delegate: Read runs once per row.
    public override bool Read()
    {
        try { return inner.Read(); }
        catch (Exception e) when (connection.Translate(e) != e) { throw connection.Translate(e); }
    }

    public override async Task<bool> ReadAsync(CancellationToken cancellationToken)
    {
        try { return await inner.ReadAsync(cancellationToken); }
        catch (Exception e) when (connection.Translate(e) != e) { throw connection.Translate(e); }
    }

    public override bool NextResult()
    {
        try { return inner.NextResult(); }
        catch (Exception e) when (connection.Translate(e) != e) { throw connection.Translate(e); }
    }

    public override async Task<bool> NextResultAsync(CancellationToken cancellationToken)
    {
        try { return await inner.NextResultAsync(cancellationToken); }
        catch (Exception e) when (connection.Translate(e) != e) { throw connection.Translate(e); }
    }

    public override void Close()
    {
        try { inner.Close(); }
        catch (Exception e) when (connection.Translate(e) != e) { throw connection.Translate(e); }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try { inner.Dispose(); }
            catch (Exception e) when (connection.Translate(e) != e) { throw connection.Translate(e); }
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        try { await inner.DisposeAsync(); }
        catch (Exception e) when (connection.Translate(e) != e) { throw connection.Translate(e); }
        GC.SuppressFinalize(this);
    }

    public override int Depth => inner.Depth;
    public override int FieldCount => inner.FieldCount;
    public override int VisibleFieldCount => inner.VisibleFieldCount;
    public override bool HasRows => inner.HasRows;
    public override bool IsClosed => inner.IsClosed;
    public override int RecordsAffected => inner.RecordsAffected;
    public override object this[int ordinal] => inner[ordinal];
    public override object this[string name] => inner[name];
    public override bool GetBoolean(int ordinal) => inner.GetBoolean(ordinal);
    public override byte GetByte(int ordinal) => inner.GetByte(ordinal);
    public override long GetBytes(int ordinal, long dataOffset, byte[]? buffer, int bufferOffset, int length) => inner.GetBytes(ordinal, dataOffset, buffer, bufferOffset, length);
    public override char GetChar(int ordinal) => inner.GetChar(ordinal);
    public override long GetChars(int ordinal, long dataOffset, char[]? buffer, int bufferOffset, int length) => inner.GetChars(ordinal, dataOffset, buffer, bufferOffset, length);
    public override string GetDataTypeName(int ordinal) => inner.GetDataTypeName(ordinal);
    public override DateTime GetDateTime(int ordinal) => inner.GetDateTime(ordinal);
    public override decimal GetDecimal(int ordinal) => inner.GetDecimal(ordinal);
    public override double GetDouble(int ordinal) => inner.GetDouble(ordinal);
    public override IEnumerator GetEnumerator() => ((IEnumerable)inner).GetEnumerator();
    public override Type GetFieldType(int ordinal) => inner.GetFieldType(ordinal);
    public override T GetFieldValue<T>(int ordinal) => inner.GetFieldValue<T>(ordinal);
    public override Task<T> GetFieldValueAsync<T>(int ordinal, CancellationToken cancellationToken) => inner.GetFieldValueAsync<T>(ordinal, cancellationToken);
    public override float GetFloat(int ordinal) => inner.GetFloat(ordinal);
    public override Guid GetGuid(int ordinal) => inner.GetGuid(ordinal);
    public override short GetInt16(int ordinal) => inner.GetInt16(ordinal);
    public override int GetInt32(int ordinal) => inner.GetInt32(ordinal);
    public override long GetInt64(int ordinal) => inner.GetInt64(ordinal);
    public override string GetName(int ordinal) => inner.GetName(ordinal);
    public override int GetOrdinal(string name) => inner.GetOrdinal(name);
    public override Type GetProviderSpecificFieldType(int ordinal) => inner.GetProviderSpecificFieldType(ordinal);
    public override object GetProviderSpecificValue(int ordinal) => inner.GetProviderSpecificValue(ordinal);
    public override int GetProviderSpecificValues(object[] values) => inner.GetProviderSpecificValues(values);
    public override DataTable? GetSchemaTable() => inner.GetSchemaTable();
    public override Task<DataTable?> GetSchemaTableAsync(CancellationToken cancellationToken = default) => inner.GetSchemaTableAsync(cancellationToken);
    public override Stream GetStream(int ordinal) => inner.GetStream(ordinal);
    public override string GetString(int ordinal) => inner.GetString(ordinal);
    public override TextReader GetTextReader(int ordinal) => inner.GetTextReader(ordinal);
    public override object GetValue(int ordinal) => inner.GetValue(ordinal);
    public override int GetValues(object[] values) => inner.GetValues(values);
    public override bool IsDBNull(int ordinal) => inner.IsDBNull(ordinal);
    public override Task<bool> IsDBNullAsync(int ordinal, CancellationToken cancellationToken) => inner.IsDBNullAsync(ordinal, cancellationToken);
}
