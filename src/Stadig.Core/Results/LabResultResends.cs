using System.Data.Common;
using Dapper;

namespace Stadig.LabResults;

/// <summary>
/// A lab that held its results during a downtime, or did not get Stadig's ACK, sends them again —
/// often as a new message with a new MSH-10, so the message-level duplicate check does not see it.
/// A report is a resend when, for its filler order number (OBR-3), every observation code it carries
/// has exactly the lines already current in the patient's record: the same values, units, flags,
/// ranges, result status (OBX-11) and report status (OBR-25). A resend files nothing new: no second
/// report in the inbox, no copy in the timeline or in FHIR. Anything that differs — a corrected value
/// (C), a final after a preliminary (F after P), a new analysis — is filed and supersedes as before.
/// </summary>
internal static class LabResultResends
{
    private sealed class CurrentLine
    {
        public string Code { get; init; } = "";
        public double? ValueNumeric { get; init; }
        public string? ValueText { get; init; }
        public string? Unit { get; init; }
        public string? Status { get; init; }
        public string? AbnormalFlag { get; init; }
        public string? ReferenceRange { get; init; }
        public DateTimeOffset ObservedAt { get; init; }
        public string? Comment { get; init; }
        public string? AttachmentType { get; init; }
        public string? ReportStatus { get; init; }
    }

    /// <summary>The reports of <paramref name="reports"/> (one patient's) whose every line is already current, as filed by an earlier message.</summary>
    public static async Task<IReadOnlyList<PlannedReport>> FindAsync(DbConnection c, DbTransaction t, IReadOnlyList<PlannedReport> reports, Guid patientId, Guid messageId)
    {
        var resent = new List<PlannedReport>();
        foreach (var byFiller in reports.Where(r => r.Report.FillerOrderNumber is not null).GroupBy(r => r.Report.FillerOrderNumber!))
        {
            var current = (await c.QueryAsync<CurrentLine>(
                """
                SELECT r.analysis_code AS Code, r.value_numeric AS ValueNumeric, r.value_text AS ValueText, r.unit AS Unit, r.status AS Status,
                       r.abnormal_flag AS AbnormalFlag, r.reference_range AS ReferenceRange, r.observed_at AS ObservedAt, r.comment AS Comment,
                       r.attachment_type AS AttachmentType, d.status AS ReportStatus
                FROM lab_result r LEFT JOIN diagnostic_report d ON d.id = r.report_id
                WHERE r.patient_id = @patientId AND r.filler_order_number = @filler AND r.superseded_by IS NULL
                  AND r.message_id IS NOT NULL AND r.message_id <> @messageId
                """, new { patientId, filler = byFiller.Key, messageId }, t)).ToLookup(l => l.Code, StringComparer.Ordinal);
            if (current.Count == 0) continue;
            var planned = byFiller.SelectMany(r => r.Lines.Select(l => (Report: r.Report, Line: l))).ToLookup(l => l.Line.Observation.Code, StringComparer.Ordinal);
            var same = planned.All(code =>
            {
                var stored = current[code.Key].Select(l => Key(l)).OrderBy(k => k, StringComparer.Ordinal).ToList();
                var sent = code.Select(l => Key(l.Report, l.Line)).OrderBy(k => k, StringComparer.Ordinal).ToList();
                if (stored.Count != sent.Count) return false;
                // A line with no time of its own takes the message's (MSH-7), which a resend may change: compared without it.
                return stored.Zip(sent).All(p => p.First == p.Second
                    || (code.Any(l => l.Line.Observation.ObservedAt is null && l.Report.ObservedAt is null) && Untimed(p.First) == Untimed(p.Second)));
            });
            if (same) resent.AddRange(byFiller);
        }
        return resent;
    }

    private static string Key(CurrentLine l) =>
        Join(l.ValueNumeric, l.ValueText, l.Unit, l.Status, l.AbnormalFlag, l.ReferenceRange, l.Comment, l.AttachmentType, l.ReportStatus, l.ObservedAt);

    private static string Key(OruReport report, PlannedLine line)
    {
        var o = line.Observation;
        return Join(o.ValueNumeric, o.ValueText, o.Unit, o.Status, o.AbnormalFlag, o.ReferenceRange, o.Comment, o.Attachment?.ContentType, report.Status, line.ObservedAt);
    }

    private static string Join(double? number, string? text, string? unit, string? status, string? flag, string? range, string? comment, string? attachment,
        string? reportStatus, DateTimeOffset observedAt) =>
        string.Join('\u001f', number?.ToString("R", System.Globalization.CultureInfo.InvariantCulture), text, unit, status, flag, range, comment, attachment, reportStatus)
        + '\u001e' + observedAt.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Untimed(string key) => key[..key.LastIndexOf('\u001e')];
}
