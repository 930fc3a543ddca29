using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Storage;

namespace Stadig.LabResults;

/// <summary>A document a lab sent with a result (OBX-2 ED), as stored: decoded bytes and their type.</summary>
public sealed record ResultAttachment(Guid ResultId, Guid PatientId, string Title, string ContentType, byte[] Data, DateTimeOffset ObservedAt)
{
    /// <summary>Whether a browser may show it inline; other types are offered as a download only.</summary>
    public bool MayShowInline => OruAttachments.Inline.Contains(ContentType);
}

/// <summary>Reads a result's document through the checkpoint: one audited read, another unit's line reads as not found.</summary>
public sealed class ResultAttachments(PatientCheckpoint checkpoint)
{
    public const string Resource = "LabAttachment";

    public async Task<ResultAttachment> ReadAsync(Caller caller, Guid resultId, CancellationToken cancellationToken = default)
    {
        // The line first: it names its patient and unit, so the access decision is one audited read.
        Row? row;
        await using (var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken))
            row = await connection.QuerySingleOrDefaultAsync<Row>(
                """
                SELECT id AS ResultId, patient_id AS PatientId, unit_id AS UnitId, analysis_name AS Title, attachment_type AS ContentType,
                       attachment_data AS Data, observed_at AS ObservedAt
                FROM lab_result WHERE id = @resultId AND attachment_type IS NOT NULL
                """, new { resultId });
        if (row is null) throw await checkpoint.RefuseAsync(caller, null, Resource, AuditActivity.Read, cancellationToken);
        var grant = await checkpoint.ReadAsync(caller, row.PatientId, Resource, cancellationToken);
        if (!grant.Context.MaySee(row.UnitId)) throw await checkpoint.RefuseAsync(caller, row.PatientId, Resource, AuditActivity.Read, cancellationToken);
        return new ResultAttachment(row.ResultId, row.PatientId, row.Title, row.ContentType, row.Data, row.ObservedAt);
    }

    internal sealed record Row
    {
        public Guid ResultId { get; init; }
        public Guid PatientId { get; init; }
        public Guid UnitId { get; init; }
        public string Title { get; init; } = "";
        public string ContentType { get; init; } = "";
        public byte[] Data { get; init; } = [];
        public DateTimeOffset ObservedAt { get; init; }
    }
}
