using System.Globalization;
using System.Text;
using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Audit;

/// <summary>What a log auditor searches the audit log for. Every criterion is optional.</summary>
public sealed record AuditFilter
{
    public string? StaffHsaId { get; init; }
    public Guid? PatientId { get; init; }
    public string? UnitHsaId { get; init; }
    /// <summary>Inclusive.</summary>
    public DateTimeOffset? From { get; init; }
    /// <summary>Exclusive.</summary>
    public DateTimeOffset? To { get; init; }
    public AuditActivity? Activity { get; init; }
    public AuditOutcome? Outcome { get; init; }
    /// <summary>Only events with a stored or an automatic flag.</summary>
    public bool FlaggedOnly { get; init; }
    public int Limit { get; init; } = AuditQueries.DefaultLimit;
    public int Offset { get; init; }
}

/// <summary>Flags computed when the log is reviewed, besides the ones stored with each event.</summary>
[Flags]
public enum AutomaticFlags
{
    None = 0,
    /// <summary>The user's surname is the patient's (a relative?).</summary>
    SameSurname = 1,
    /// <summary>The user read more distinct patients that day than the threshold.</summary>
    UnusualVolume = 2,
}

public sealed record AuditReviewNote(Guid Id, Guid AuditEventId, Guid ReviewedBy, string ReviewerName, DateTimeOffset ReviewedAt, string Comment);

/// <summary>One event as a reviewer sees it: the event, its flags, who the patient is, whether it was reviewed.</summary>
public sealed record AuditSearchItem(AuditEvent Event, AutomaticFlags Automatic, string? PatientIdentifier, string? PatientName, long ReviewCount)
{
    public bool Flagged => Event.Flags != AuditFlags.None || Automatic != AutomaticFlags.None;
}

public sealed record AuditSearchResult(IReadOnlyList<AuditSearchItem> Items, bool MoreExist, int Offset, int Limit);

/// <summary>One access in a patient's log extract: when, where, what and (where the region allows) who.</summary>
public sealed record LogExtractRow(DateTimeOffset OccurredAt, string UnitName, string UnitHsaId, AuditActivity Activity, string? StaffName)
{
    public string ActivitySwedish => Activity.Swedish();
}

public sealed record LogExtract(Guid PatientId, string? PatientName, string PatientIdentifier, DateTimeOffset? From, DateTimeOffset? To,
    DateTimeOffset ProducedAt, bool IncludesStaffNames, IReadOnlyList<LogExtractRow> Rows);

public sealed class AuditQueryOptions
{
    /// <summary>A user who reads more distinct patients than this in one day gets the "unusual volume" flag.</summary>
    public int UnusualVolumePatientsPerDay { get; set; } = 50;
}

/// <summary>
/// Log review (logguppföljning) and the patient's log extract (loggutdrag, HSLF-FS 2016:40 4:10).
/// Reading the log is itself logged: every search, review and extract is an audit event.
/// </summary>
public sealed class AuditQueries(Database database, AuditLog audit, TimeProvider clock, AuditQueryOptions? options = null, RegionTime? regionTime = null)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;
    public const int MaxCommentLength = 2000;

    /// <summary>How many events a flagged-only search looks through at most before it stops (automatic flags are computed, not indexed).</summary>
    public const int FlaggedScanLimit = 20_000;

    // Days of review are the region's calendar days.
    private readonly RegionTime _time = regionTime ?? RegionTime.Sweden;

    private readonly AuditQueryOptions _options = options ?? new AuditQueryOptions();

    public int UnusualVolumeThreshold => _options.UnusualVolumePatientsPerDay;

    /// <summary>Searches the audit log, newest first. Log auditors only; the search is audited.</summary>
    public async Task<AuditSearchResult> SearchAsync(Caller auditor, AuditFilter filter, CancellationToken cancellationToken = default)
    {
        await RequireAuditorAsync(auditor, filter.PatientId, "AuditSearch", cancellationToken);
        var limit = Math.Clamp(filter.Limit, 1, MaxLimit);
        var offset = Math.Max(0, filter.Offset);

        var where = new List<string>();
        var parameters = new DynamicParameters();
        if (!string.IsNullOrWhiteSpace(filter.StaffHsaId)) { where.Add("e.staff_hsa_id = @staff"); parameters.Add("staff", filter.StaffHsaId.Trim()); }
        if (filter.PatientId is { } patientId) { where.Add("e.patient_id = @patient"); parameters.Add("patient", patientId); }
        if (!string.IsNullOrWhiteSpace(filter.UnitHsaId)) { where.Add("e.unit_hsa_id = @unit"); parameters.Add("unit", filter.UnitHsaId.Trim()); }
        if (filter.From is { } from) { where.Add("e.occurred_at >= @from"); parameters.Add("from", from); }
        if (filter.To is { } to) { where.Add("e.occurred_at < @to"); parameters.Add("to", to); }
        if (filter.Activity is { } activity) { where.Add("e.activity = @activity"); parameters.Add("activity", activity.ToString()); }
        if (filter.Outcome is { } outcome) { where.Add("e.outcome = @outcome"); parameters.Add("outcome", outcome.ToString()); }
        var sql =
            $"""
            SELECT {Prefixed(AuditLog.Columns)}, p.identifier AS PatientIdentifier, p.identifier_kind AS IdentifierKind, p.family_name AS FamilyName, p.given_names AS GivenNames,
                p.family_search AS FamilySearch, p.family_last_search AS FamilyLastSearch, p.protected_identity AS ProtectedIdentity,
                (SELECT COUNT(*) FROM audit_review r WHERE r.audit_event_id = e.id) AS ReviewCount
            FROM audit_event e LEFT JOIN patient p ON p.id = e.patient_id
            {(where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where))}
            ORDER BY e.occurred_at DESC, e.id DESC
            LIMIT @take OFFSET @skip
            """;

        var items = new List<AuditSearchItem>();
        var volumes = new Dictionary<(string Staff, DateOnly Day), long>();
        // Log review tolerates a replica's lag (docs/operations.md, "High availability").
        await using (var connection = await database.OpenReplicaTolerantAsync(cancellationToken))
        {
            if (!filter.FlaggedOnly)
            {
                parameters.Add("take", limit + 1);
                parameters.Add("skip", offset);
                foreach (var row in await connection.QueryAsync<Row>(sql, parameters))
                    items.Add(await ItemAsync(connection, row, volumes));
            }
            else
            {
                // Automatic flags are computed per event, so flagged-only pages are cut from a scan,
                // bounded so that a search never reads the whole log.
                var skipFlagged = offset;
                for (var scanned = 0; scanned < FlaggedScanLimit && items.Count <= limit; scanned += MaxLimit)
                {
                    parameters.Add("take", MaxLimit);
                    parameters.Add("skip", scanned);
                    var rows = (await connection.QueryAsync<Row>(sql, parameters)).ToList();
                    foreach (var row in rows)
                    {
                        var item = await ItemAsync(connection, row, volumes);
                        if (!item.Flagged) continue;
                        if (skipFlagged > 0) { skipFlagged--; continue; }
                        items.Add(item);
                        if (items.Count > limit) break;
                    }
                    if (rows.Count < MaxLimit) break;
                }
            }
        }

        // Fail closed: the search is in the log before its answer is shown.
        await audit.AppendAsync(new AuditEntry(auditor, filter.PatientId, AuditActivity.Read, "AuditSearch", Detail: Describe(filter, limit, offset)), cancellationToken);
        var more = items.Count > limit;
        return new AuditSearchResult(more ? items.GetRange(0, limit) : items, more, offset, limit);
    }

    /// <summary>One event with its flags and reviews, for the review page. Log auditors only; audited.</summary>
    public async Task<(AuditSearchItem Item, IReadOnlyList<AuditReviewNote> Reviews)> GetEventAsync(Caller auditor, Guid eventId, CancellationToken cancellationToken = default)
    {
        await RequireAuditorAsync(auditor, null, "AuditEvent", cancellationToken);
        await using var connection = await database.OpenReplicaTolerantAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(
            $"""
            SELECT {Prefixed(AuditLog.Columns)}, p.identifier AS PatientIdentifier, p.identifier_kind AS IdentifierKind, p.family_name AS FamilyName, p.given_names AS GivenNames,
                p.family_search AS FamilySearch, p.family_last_search AS FamilyLastSearch, p.protected_identity AS ProtectedIdentity,
                (SELECT COUNT(*) FROM audit_review r WHERE r.audit_event_id = e.id) AS ReviewCount
            FROM audit_event e LEFT JOIN patient p ON p.id = e.patient_id WHERE e.id = @eventId
            """, new { eventId }) ?? throw new NotFoundException("Händelsen finns inte i loggen.");
        var item = await ItemAsync(connection, row, []);
        var reviews = (await connection.QueryAsync<ReviewRow>(
            """
            SELECT r.id AS Id, r.audit_event_id AS AuditEventId, r.reviewed_by AS ReviewedBy, s.display_name AS ReviewerName,
                r.reviewed_at AS ReviewedAt, r.comment AS Comment
            FROM audit_review r JOIN staff s ON s.id = r.reviewed_by WHERE r.audit_event_id = @eventId ORDER BY r.reviewed_at
            """, new { eventId })).Select(r => new AuditReviewNote(r.Id, r.AuditEventId, r.ReviewedBy, r.ReviewerName, r.ReviewedAt, r.Comment)).ToList();
        await audit.AppendAsync(new AuditEntry(auditor, null, AuditActivity.Read, "AuditEvent", Detail: eventId.ToString()), cancellationToken);
        return (item, reviews);
    }

    /// <summary>Records that a log auditor reviewed an event, with a comment; the review and its audit event commit together.</summary>
    public async Task<AuditReviewNote> MarkReviewedAsync(Caller auditor, Guid eventId, string comment, CancellationToken cancellationToken = default)
    {
        await RequireAuditorAsync(auditor, null, "AuditReview", cancellationToken, AuditActivity.Write);
        var text = (comment ?? "").Trim().NormalizeText(NormalizationForm.FormC);
        if (text.Length == 0) throw new InvalidInputException("comment", "Kommentar saknas.");
        if (text.Length > MaxCommentLength) throw new InvalidInputException("comment", $"Kommentaren är längre än {MaxCommentLength} tecken.");

        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await using var transaction = await database.BeginAsync(connection, cancellationToken);
        var exists = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE id = @eventId", new { eventId }, transaction);
        if (exists == 0) throw new NotFoundException("Händelsen finns inte i loggen.");
        var note = new AuditReviewNote(Guid.CreateVersion7(), eventId, auditor.StaffId, auditor.DisplayName, clock.GetUtcNow(), text);
        await connection.ExecuteAsync(
            "INSERT INTO audit_review (id, audit_event_id, reviewed_by, reviewed_at, comment) VALUES (@Id, @AuditEventId, @ReviewedBy, @ReviewedAt, @Comment)",
            new { note.Id, note.AuditEventId, note.ReviewedBy, note.ReviewedAt, note.Comment }, transaction);
        // The review is about the log, not the record: it goes in the system chain, naming the event.
        await audit.AppendAsync(new AuditEntry(auditor, null, AuditActivity.Write, "AuditReview", Detail: eventId.ToString()), connection, transaction);
        await Database.CommitAsync(transaction, cancellationToken);
        return note;
    }

    /// <summary>
    /// The patient's log extract (loggutdrag, HSLF-FS 2016:40 4:10): every allowed access to the
    /// patient's data with time, care unit and activity, oldest first. Whether the extract also names
    /// the person who accessed the data is the region's decision (public access to documents and
    /// secrecy rules differ by provider), so <paramref name="includeStaffNames"/> is off unless the
    /// region turns it on. Log auditors and administrators may produce it; producing it is audited
    /// as <paramref name="producedAs"/> (Read for the page, Print for the PDF).
    /// </summary>
    public async Task<LogExtract> LogExtractAsync(Caller caller, Guid patientId, bool includeStaffNames = false, AuditActivity producedAs = AuditActivity.Read,
        DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.Allows(caller.Role, RecordPart.LogExtract, RecordActions.Read))
        {
            await audit.AppendAsync(new AuditEntry(caller, null, producedAs, "LogExtract", AuditOutcome.Denied, Detail: patientId.ToString()), cancellationToken);
            throw new ForbiddenException("Endast logggranskare och administratörer får ta fram loggutdrag.");
        }
        await using var connection = await database.OpenReplicaTolerantAsync(cancellationToken);
        var patient = await connection.QuerySingleOrDefaultAsync<(string Kind, string Identifier, string FamilyName, string GivenNames)?>(
            "SELECT identifier_kind, identifier, family_name, given_names FROM patient WHERE id = @patientId", new { patientId })
            ?? throw new NotFoundException("Patienten finns inte.");
        var rows = (await connection.QueryAsync<ExtractRow>(
            $"""
            SELECT e.occurred_at AS OccurredAt, COALESCE(u.name, e.unit_hsa_id) AS UnitName, e.unit_hsa_id AS UnitHsaId, e.activity AS Activity,
                {(includeStaffNames ? "e.staff_name" : "NULL")} AS StaffName
            FROM audit_event e LEFT JOIN care_unit u ON u.id = e.unit_id
            WHERE e.patient_id = @patientId AND e.outcome = 'Allowed'
                {(from is null ? "" : "AND e.occurred_at >= @from")} {(to is null ? "" : "AND e.occurred_at < @to")}
            ORDER BY e.occurred_at, e.id
            """, new { patientId, from, to })).Select(r => new LogExtractRow(r.OccurredAt, r.UnitName, r.UnitHsaId, r.Activity, r.StaffName)).ToList();
        var producedAt = clock.GetUtcNow();
        // Fail closed: the extract is in the log before it is handed out.
        await audit.AppendAsync(new AuditEntry(caller, patientId, producedAs, "LogExtract",
            Detail: includeStaffNames ? "med namn" : "utan namn"), cancellationToken);
        return new LogExtract(patientId, Patients.PatientNames.Sort(patient.FamilyName, patient.GivenNames), IdentifierDisplay(patient.Kind, patient.Identifier),
            from ?? rows.FirstOrDefault()?.OccurredAt, to ?? producedAt, producedAt, includeStaffNames, rows);
    }

    private async Task RequireAuditorAsync(Caller caller, Guid? patientId, string resource, CancellationToken cancellationToken,
        AuditActivity activity = AuditActivity.Read)
    {
        if (RolePermissions.ReviewsLogs(caller.Role)) return;
        await audit.AppendAsync(new AuditEntry(caller, patientId, activity, resource, AuditOutcome.Denied), cancellationToken);
        throw new ForbiddenException("Endast logggranskare får granska loggen.");
    }

    private async Task<AuditSearchItem> ItemAsync(System.Data.Common.DbConnection connection, Row row, Dictionary<(string, DateOnly), long> volumes)
    {
        var e = row.ToEvent();
        var automatic = AutomaticFlags.None;

        // Same surname as the user: the last word of the user's name against the patient's stored
        // folded family name (whole, or its last part for double names).
        if (row.FamilySearch is not null)
        {
            var surname = NameSearch.LastWord(e.StaffName);
            if (surname.Length > 0 && (surname == row.FamilySearch || surname == row.FamilyLastSearch)) automatic |= AutomaticFlags.SameSurname;
        }
        // "Same address as the user" is a common review criterion, but staff have no address in the
        // schema (the staff table holds no home address), so it is not computed.

        // The system (no person: a downtime snapshot reads every ward's patients each quarter hour) has no volume to review.
        if (e.PatientId is not null && e.StaffHsaId.Length > 0 && e.StaffId is not null)
        {
            var day = _time.Day(e.OccurredAt);
            if (!volumes.TryGetValue((e.StaffHsaId, day), out var patients))
            {
                var start = _time.StartOfDay(day);
                var end = _time.StartOfDay(day.AddDays(1));
                patients = await connection.ExecuteScalarAsync<long>(
                    """
                    SELECT COUNT(DISTINCT patient_id) FROM audit_event
                    WHERE staff_hsa_id = @staff AND occurred_at >= @start AND occurred_at < @end AND activity = 'Read' AND patient_id IS NOT NULL
                    """, new { staff = e.StaffHsaId, start, end });
                volumes[(e.StaffHsaId, day)] = patients;
            }
            if (patients > _options.UnusualVolumePatientsPerDay) automatic |= AutomaticFlags.UnusualVolume;
        }

        string? name = row.FamilyName is null ? null
            : row.ProtectedIdentity is { } shielded && !shielded.Equals("None", StringComparison.OrdinalIgnoreCase) ? "Skyddad identitet"
            : Patients.PatientNames.Sort(row.FamilyName, row.GivenNames);
        return new AuditSearchItem(e, automatic, row.PatientIdentifier is null ? null : IdentifierDisplay(row.IdentifierKind, row.PatientIdentifier), name, row.ReviewCount);
    }

    /// <summary>As people write it: personnummer and samordningsnummer with the dash, reservnummer as stored.</summary>
    private static string IdentifierDisplay(string? kind, string identifier) =>
        kind == nameof(Patients.Identifiers.IdentifierKind.Reservnummer) || identifier.Length != 12 ? identifier : $"{identifier[..8]}-{identifier[8..]}";

    private static string Prefixed(string columns) =>
        string.Join(", ", columns.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(c => "e." + c));

    private static string Describe(AuditFilter f, int limit, int offset)
    {
        var parts = new List<string>();
        if (!string.IsNullOrWhiteSpace(f.StaffHsaId)) parts.Add($"staff={f.StaffHsaId.Trim()}");
        if (!string.IsNullOrWhiteSpace(f.UnitHsaId)) parts.Add($"unit={f.UnitHsaId.Trim()}");
        if (f.From is { } from) parts.Add($"from={from.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}");
        if (f.To is { } to) parts.Add($"to={to.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}");
        if (f.Activity is { } a) parts.Add($"activity={a}");
        if (f.Outcome is { } o) parts.Add($"outcome={o}");
        if (f.FlaggedOnly) parts.Add("flagged");
        parts.Add($"limit={limit}");
        parts.Add($"offset={offset}");
        return string.Join(' ', parts);
    }

    private sealed class ReviewRow
    {
        public Guid Id { get; init; }
        public Guid AuditEventId { get; init; }
        public Guid ReviewedBy { get; init; }
        public string ReviewerName { get; init; } = "";
        public DateTimeOffset ReviewedAt { get; init; }
        public string Comment { get; init; } = "";
    }

    private sealed class ExtractRow
    {
        public DateTimeOffset OccurredAt { get; init; }
        public string UnitName { get; init; } = "";
        public string UnitHsaId { get; init; } = "";
        public AuditActivity Activity { get; init; }
        public string? StaffName { get; init; }
    }

    private sealed class Row
    {
        public Guid Id { get; init; }
        public string ChainKey { get; init; } = "";
        public long ChainSeq { get; init; }
        public DateTimeOffset OccurredAt { get; init; }
        public Guid? StaffId { get; init; }
        public string StaffHsaId { get; init; } = "";
        public string StaffName { get; init; } = "";
        public string Role { get; init; } = "";
        public Guid? UnitId { get; init; }
        public string UnitHsaId { get; init; } = "";
        public Guid? PatientId { get; init; }
        public AuditActivity Activity { get; init; }
        public string Purpose { get; init; } = "";
        public string Resource { get; init; } = "";
        public AuditOutcome Outcome { get; init; }
        public AuditFlags Flags { get; init; }
        public string? Detail { get; init; }
        public string PrevHash { get; init; } = "";
        public string Hash { get; init; } = "";
        public string? PatientIdentifier { get; init; }
        public string? IdentifierKind { get; init; }
        public string? FamilyName { get; init; }
        public string? GivenNames { get; init; }
        public string? FamilySearch { get; init; }
        public string? FamilyLastSearch { get; init; }
        public string? ProtectedIdentity { get; init; }
        public long ReviewCount { get; init; }

        public AuditEvent ToEvent() => new()
        {
            Id = Id, ChainKey = ChainKey, ChainSeq = ChainSeq, OccurredAt = OccurredAt, StaffId = StaffId, StaffHsaId = StaffHsaId,
            StaffName = StaffName, Role = Role, UnitId = UnitId, UnitHsaId = UnitHsaId, PatientId = PatientId, Activity = Activity,
            Purpose = Purpose, Resource = Resource, Outcome = Outcome, Flags = Flags, Detail = Detail, PrevHash = PrevHash, Hash = Hash,
        };
    }
}
