using Dapper;
using Microsoft.AspNetCore.Components.Endpoints;
using Microsoft.AspNetCore.Routing;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>
/// A server with something on every page: a patient with warnings, a problem, an admission, a signed
/// note and a draft, a lab order, a filed result with decimals and a quarantined one; and one person
/// per kind of role (physician, lab staff, administrator, log auditor), all with password "lösen".
/// <see cref="Paths"/> lists every routable page from the app's own endpoints, route parameters filled.
/// </summary>
internal sealed class EveryPage : IAsyncDisposable
{
    public static readonly string[] Users = ["eva", "bma", "drift", "granskare"];

    private EveryPage(StadigServer server, IReadOnlyDictionary<string, string> routeValues)
    {
        Server = server;
        RouteValues = routeValues;
    }

    public StadigServer Server { get; }

    /// <summary>A value for each route parameter a page may have, by parameter name.</summary>
    public IReadOnlyDictionary<string, string> RouteValues { get; }

    public Guid PatientId => Guid.Parse(RouteValues["Id"]);

    public static async Task<EveryPage> CreateAsync(DatabaseEngine engine = DatabaseEngine.Sqlite)
    {
        var server = await StadigServer.StartAsync(engine);
        var (evaMember, evaAssignments) = await server.AddUserAsync("eva", "lösen");
        var eva = StadigServer.CallerFor(evaMember, evaAssignments[0]);
        var (_, labAssignments) = await server.AddUserAsync("bma", "lösen", false, Role.LabStaff);
        await server.AddUserAsync("drift", "lösen", false, Role.Administrator);
        await server.AddUserAsync("granskare", "lösen", false, Role.LogAuditor);

        var number = TestNumbers.Personnummer(1951, 4, 12);
        var patientId = (await server.Patients.RegisterAsync(eva, number, new("Öström", "Anna", AddressLine: "Storgatan 1", PostalCode: "12345", City: "Ankeborg"))).PatientId;
        await server.Services.GetRequiredService<Stadig.Encounters.PatientEncounters>().AdmitAsync(eva, patientId, eva.UnitId, "12");
        await server.Services.GetRequiredService<Stadig.Warnings.PatientWarnings>().AddAsync(eva, patientId,
            new("Hypersensitivity", "Penicillin ger utslag.", "Penicillin", "Utslag", "Harmful", "Confirmed"));
        await server.Services.GetRequiredService<Stadig.Problems.PatientProblems>().AddAsync(eva, patientId, "I10");
        var notes = server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>();
        var note = await notes.CreateDraftAsync(eva, patientId, "Besöksanteckning");
        note = await notes.SaveDraftAsync(eva, note.Id, note.Version, [new("Aktuellt", "Ingen feber."), new("Bedömning", "Ingen misstanke om fraktur.")]);
        await notes.SignAsync(eva, note.Id, note.Version);
        var draft = await notes.CreateDraftAsync(eva, patientId, "Daganteckning");
        await server.Services.GetRequiredService<Stadig.Orders.LabOrders>().PlaceAsync(eva, patientId, ["NPU02593"]);
        var alvedon = (await server.Services.GetRequiredService<Stadig.Medication.ProductCatalogue>().SearchAsync("alvedon 500")).First();
        var medication = await server.Services.GetRequiredService<Stadig.Medication.MedicationList>().PrescribeAsync(eva, patientId,
            new Stadig.Medication.MedicationDraft { ProductId = alvedon.Id, DoseValue = 1, DoseUnit = "tablett", TimesOfDay = [new(8, 0), new(20, 0)], Indication = "Smärta" });

        var labUnit = (await server.Staff.UnitsAsync()).First(u => u.Id == labAssignments[0].UnitId);
        var ingest = new IngestOruMessage(server.Database, server.Services.GetRequiredService<Stadig.Audit.AuditLog>(),
            new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)), await LabIntegration.CallerAsync(server.Staff, labUnit), TimeProvider.System);
        var pid = number.Replace("-", "");
        await ingest.IngestAsync(
            "MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|EP1|P|2.5\r" +
            $"PID|1||{pid}^^^^PN||Öström^Anna||{pid[..8]}\rOBR|1|P100|L100|LPK^Leukocyter^L\rOBX|1|NM|NPU02593^B-Leukocyter^NPU||6.4|10^9/L|3.5-8.8|N|||F\r");
        await ingest.IngestAsync(
            "MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075600+0100||ORU^R01^ORU_R01|EP2|P|2.5\r" +
            $"PID|1||{pid}^^^^PN||Östergren^Anna\rOBR|1|P200|L200|HB^Hemoglobin^L\rOBX|1|NM|HB^Hemoglobin^L||128|g/L|117-153|N|||F\r");

        Guid eventId, reportId;
        await using (var c = await server.Database.OpenUnscopedAsync())
        {
            eventId = await c.ExecuteScalarAsync<Guid>("SELECT id FROM audit_event WHERE patient_id = @patientId ORDER BY occurred_at LIMIT 1", new { patientId });
            reportId = await c.ExecuteScalarAsync<Guid>("SELECT id FROM diagnostic_report WHERE patient_id = @patientId LIMIT 1", new { patientId });
        }
        return new EveryPage(server, new Dictionary<string, string>
        {
            ["Id"] = patientId.ToString(), ["NoteId"] = draft.Id.ToString(), ["Code"] = "NPU02593", ["EventId"] = eventId.ToString(), ["ReportId"] = reportId.ToString(), ["OrderId"] = medication.Id.ToString(),
        });
    }

    /// <summary>Every page the app routes to (Razor Components), with a signed note's page as well as the draft's.</summary>
    public IReadOnlyList<string> Paths()
    {
        var endpoints = Server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<ComponentTypeMetadata>() is not null);
        var paths = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var path = "/" + string.Join('/', endpoint.RoutePattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
            {
                Microsoft.AspNetCore.Routing.Patterns.RoutePatternLiteralPart literal => literal.Content,
                Microsoft.AspNetCore.Routing.Patterns.RoutePatternParameterPart parameter => RouteValues.TryGetValue(parameter.Name, out var value) ? value
                    : throw new InvalidOperationException($"No test data for route parameter '{parameter.Name}' of {endpoint.RoutePattern.RawText}: add it to EveryPage."),
                _ => throw new InvalidOperationException($"Unexpected route part in {endpoint.RoutePattern.RawText}."),
            }))));
            paths.Add(path);
        }
        return paths.Distinct().Order(StringComparer.Ordinal).ToList();
    }

    public async Task<HttpClient> LoggedInClientAsync(string username, string culture)
    {
        var client = Server.CreateClient();
        if (username.Length > 0) await Server.PostLoginAsync(client, username, "lösen");
        await client.GetAsync($"/culture?name={culture}&returnUrl=/");
        return client;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
