using Microsoft.Playwright;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

/// <summary>A server with a logged-in physician, an admitted patient with a signed note and an unsigned draft: the pages browser tests look at.</summary>
internal sealed record ChartPages(StadigServer Server, Guid PatientId, Guid SignedNoteId, Guid DraftNoteId)
{
    public static async Task<ChartPages> CreateAsync()
    {
        var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        var (member, assignments) = await server.AddUserAsync("lena", "lösen");
        var caller = StadigServer.CallerFor(member, assignments[0]);
        var patientId = (await server.Patients.RegisterAsync(caller, "19121212-1212", new("Öström", "Anna", AddressLine: "Storgatan 1", PostalCode: "12345", City: "Ankeborg"))).PatientId;
        var notes = server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>();
        var note = await notes.CreateDraftAsync(caller, patientId, "Besöksanteckning");
        note = await notes.SaveDraftAsync(caller, note.Id, note.Version,
            [new("Aktuellt", string.Join("\n", Enumerable.Range(1, 90).Select(i => $"Rad {i}: ingen feber, inga andningsbesvär, µ ≥ ± < > & \" '."))), new("Bedömning", "Ingen misstanke om fraktur.")]);
        await notes.SignAsync(caller, note.Id, note.Version);
        var draft = await notes.CreateDraftAsync(caller, patientId, "Daganteckning");
        await server.Services.GetRequiredService<Stadig.Encounters.PatientEncounters>().AdmitAsync(caller, patientId, caller.UnitId, "12");
        return new ChartPages(server, patientId, note.Id, draft.Id);
    }

    public static Task LogInAsync(IPage page) => Infrastructure.Browser.LogInAsync(page, "lena");
}
