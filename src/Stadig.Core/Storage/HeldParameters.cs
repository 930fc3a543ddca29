using System.Collections;
using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;

namespace Stadig.Storage;

/// <summary>
/// A parameter of a PostgreSQL command, held in plain form until the command runs
/// (<see cref="HeldParameterCollection.BindTo"/>), then handed to Npgsql as the parameter it
/// would have been. Why: Dapper sets a parameter's value and then reads its DbType to compare it
/// with the one it wants; Npgsql answers that read by searching its whole type mapping for the
/// value's CLR type, uncached, and an audited read has some 40 parameters: 13 % of a FHIR read's
/// CPU in the server (docs/benchmarks.md, "Fifth run"). Here the read answers the type
/// that was set, or Object, so Dapper sets the type it maps the value to, which is the type Npgsql
/// infers from it (a string is text, a bool boolean, a long bigint; a type handler's values are
/// left to Npgsql as before).
/// </summary>
internal sealed class HeldParameter : DbParameter
{
    private DbType? _dbType;

    public override DbType DbType { get => _dbType ?? DbType.Object; set => _dbType = value == DbType.Object ? null : value; }
    public override ParameterDirection Direction { get; set; } = ParameterDirection.Input;
    public override bool IsNullable { get; set; }
    [AllowNull] public override string ParameterName { get; set; } = "";
    public override int Size { get; set; }
    [AllowNull] public override string SourceColumn { get; set; } = "";
    public override bool SourceColumnNullMapping { get; set; }
    public override object? Value { get; set; }
    public override void ResetDbType() => _dbType = null;

    /// <summary>Npgsql's parameter for this one: the type only where one was set, as if set on it directly.</summary>
    public Npgsql.NpgsqlParameter ToNpgsql()
    {
        var parameter = new Npgsql.NpgsqlParameter
        {
            ParameterName = ParameterName, Value = Value, Direction = Direction, IsNullable = IsNullable,
            Size = Size, Precision = Precision, Scale = Scale, SourceColumn = SourceColumn,
        };
        if (_dbType is { } type) parameter.DbType = type;
        return parameter;
    }
}

/// <summary>The parameters of a PostgreSQL command until it runs: <see cref="HeldParameter"/>, and any Npgsql parameter added as it is.</summary>
internal sealed class HeldParameterCollection : DbParameterCollection
{
    private readonly List<DbParameter> _items = [];

    /// <summary>Puts this collection's parameters on <paramref name="command"/>, replacing those of an earlier run.</summary>
    public void BindTo(DbCommand command)
    {
        var target = command.Parameters;
        target.Clear();
        foreach (var item in _items) target.Add(item is HeldParameter held ? held.ToNpgsql() : item);
    }

    public override int Count => _items.Count;
    public override object SyncRoot => _items;

    public override int Add(object value)
    {
        _items.Add(AsParameter(value));
        return _items.Count - 1;
    }

    public override void AddRange(Array values)
    {
        foreach (var value in values) Add(value);
    }

    public override void Clear() => _items.Clear();
    public override bool Contains(object value) => value is DbParameter p && _items.Contains(p);
    public override bool Contains(string value) => IndexOf(value) >= 0;
    public override void CopyTo(Array array, int index) => ((ICollection)_items).CopyTo(array, index);
    public override IEnumerator GetEnumerator() => _items.GetEnumerator();
    public override int IndexOf(object value) => value is DbParameter p ? _items.IndexOf(p) : -1;

    /// <summary>
    /// By name, with or without its @ or : (as Npgsql's own collection finds it), exact case first.
    /// One pass without allocating: Dapper asks for every parameter it adds whether it is already there.
    /// </summary>
    public override int IndexOf(string parameterName)
    {
        var name = Trimmed(parameterName);
        var ignoringCase = -1;
        for (var i = 0; i < _items.Count; i++)
        {
            var candidate = Trimmed(_items[i].ParameterName);
            if (candidate.SequenceEqual(name)) return i;
            if (ignoringCase < 0 && candidate.Equals(name, StringComparison.OrdinalIgnoreCase)) ignoringCase = i;
        }
        return ignoringCase;
    }

    public override void Insert(int index, object value) => _items.Insert(index, AsParameter(value));
    public override void Remove(object value) => _items.Remove(AsParameter(value));
    public override void RemoveAt(int index) => _items.RemoveAt(index);
    public override void RemoveAt(string parameterName) => _items.RemoveAt(Found(parameterName));
    protected override DbParameter GetParameter(int index) => _items[index];
    protected override DbParameter GetParameter(string parameterName) => _items[Found(parameterName)];
    protected override void SetParameter(int index, DbParameter value) => _items[index] = value;
    protected override void SetParameter(string parameterName, DbParameter value) => _items[Found(parameterName)] = value;

    private int Found(string parameterName) =>
        IndexOf(parameterName) is var index and >= 0 ? index : throw new ArgumentException($"No parameter named {parameterName}.", nameof(parameterName));

    private static ReadOnlySpan<char> Trimmed(string? name) => name is { Length: > 0 } && (name[0] == '@' || name[0] == ':') ? name.AsSpan(1) : name.AsSpan();

    private static DbParameter AsParameter(object value) =>
        value as DbParameter ?? throw new InvalidCastException($"A command's parameter is a DbParameter, not {value?.GetType().Name ?? "null"}.");
}
