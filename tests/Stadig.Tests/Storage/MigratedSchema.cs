using System.Data.Common;
using Dapper;
using Stadig.Storage;

namespace Stadig.Tests.Storage;

/// <summary>One column of a migrated table as the engine reports it (the type as the engine names it).</summary>
public sealed record SchemaColumn(string Table, string Name, string Type, bool Nullable, bool HasDefault);

/// <summary>A single-column foreign key.</summary>
public sealed record SchemaForeignKey(string Table, string Column, string ReferencedTable, string ReferencedColumn);

/// <summary>An index created by a migration (not the ones engines make for primary keys and UNIQUE constraints); expressions as "(expr)".</summary>
public sealed record SchemaIndex(string Table, string Name, bool Unique, bool Partial, string Columns);

/// <summary>
/// The schema of a migrated database read back from the engine's own catalogue, so tests see what the
/// migrations made rather than what someone believes they made.
/// </summary>
public sealed record MigratedSchema(IReadOnlyList<SchemaColumn> Columns, IReadOnlyList<SchemaForeignKey> ForeignKeys, IReadOnlyList<SchemaIndex> Indexes)
{
    public IEnumerable<SchemaColumn> ColumnsOf(string table) => Columns.Where(c => c.Table == table);

    public static async Task<MigratedSchema> ReadAsync(DbConnection connection, DatabaseEngine engine) =>
        engine == DatabaseEngine.Postgres ? await ReadPostgresAsync(connection) : await ReadSqliteAsync(connection);

    private static async Task<MigratedSchema> ReadPostgresAsync(DbConnection connection)
    {
        var columns = (await connection.QueryAsync<(string, string, string, string, bool)>(
            """
            SELECT table_name, column_name, data_type, is_nullable, column_default IS NOT NULL
            FROM information_schema.columns WHERE table_schema = current_schema()
            ORDER BY table_name, ordinal_position
            """)).Select(c => new SchemaColumn(c.Item1, c.Item2, c.Item3, c.Item4 == "YES", c.Item5)).ToList();
        var keys = (await connection.QueryAsync<(string, string, string, string)>(
            """
            SELECT cl.relname, a.attname, rc.relname, ra.attname
            FROM pg_constraint k
            JOIN pg_class cl ON cl.oid = k.conrelid
            JOIN pg_class rc ON rc.oid = k.confrelid
            JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
            JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
            WHERE k.contype = 'f' AND cl.relnamespace = current_schema()::regnamespace
            """)).Select(k => new SchemaForeignKey(k.Item1, k.Item2, k.Item3, k.Item4)).ToList();
        var indexes = (await connection.QueryAsync<(string, string, bool, bool, string)>(
            """
            SELECT t.relname, i.relname, x.indisunique, x.indpred IS NOT NULL,
                   (SELECT string_agg(CASE WHEN k.attnum = 0 THEN '(expr)' ELSE a.attname END, ',' ORDER BY k.ord)
                    FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                    LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relnamespace = current_schema()::regnamespace
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            """)).Select(i => new SchemaIndex(i.Item1, i.Item2, i.Item3, i.Item4, i.Item5)).ToList();
        return new MigratedSchema(columns, keys, indexes);
    }

    private static async Task<MigratedSchema> ReadSqliteAsync(DbConnection connection)
    {
        var columns = (await connection.QueryAsync<(string, string, string, long, string?, long)>(
            """
            SELECT m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk
            FROM sqlite_master m, pragma_table_info(m.name) p
            WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
            ORDER BY m.name, p.cid
            """))
            // SQLite lets a primary-key column be null unless it says NOT NULL; PostgreSQL never does, and neither does Stadig.
            .Select(c => new SchemaColumn(c.Item1, c.Item2, c.Item3, c.Item4 == 0 && c.Item6 == 0, c.Item5 is not null)).ToList();
        var keys = (await connection.QueryAsync<(string, string, string, string?)>(
            """
            SELECT m.name, f."from", f."table", f."to"
            FROM sqlite_master m, pragma_foreign_key_list(m.name) f
            WHERE m.type = 'table'
            """)).Select(k => new SchemaForeignKey(k.Item1, k.Item2, k.Item3, k.Item4 ?? "id")).ToList();
        var indexes = (await connection.QueryAsync<(string, string, long, long, string)>(
            """
            SELECT m.tbl_name, m.name, l."unique", l.partial,
                   (SELECT group_concat(CASE WHEN x.cid = -2 THEN '(expr)' ELSE x.name END, ',')
                    FROM (SELECT * FROM pragma_index_xinfo(m.name) WHERE key = 1 ORDER BY seqno) x)
            FROM sqlite_master m
            JOIN pragma_index_list(m.tbl_name) l ON l.name = m.name
            WHERE m.type = 'index' AND m.sql IS NOT NULL
            """)).Select(i => new SchemaIndex(i.Item1, i.Item2, i.Item3 != 0, i.Item4 != 0, i.Item5)).ToList();
        return new MigratedSchema(columns, keys, indexes);
    }
}
