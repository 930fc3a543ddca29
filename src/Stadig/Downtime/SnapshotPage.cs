using System.Globalization;
using System.Resources;
using System.Text;
using System.Text.Json;
using Stadig.Chart;
using Stadig.Common;
using Stadig.Medication;
using Stadig.Notes;
using Stadig.Patients;

namespace Stadig.Downtime;

/// <summary>
/// The snapshot as one self-contained HTML file: a page that holds the encrypted record and decrypts
/// it with WebCrypto when the unit's key is typed, with no server, no network and nothing loaded from
/// anywhere (its Content-Security-Policy allows no fetch at all). The decrypted part is HTML made
/// here, every value encoded, and prints one patient per page with the snapshot's time on each.
/// </summary>
public sealed class SnapshotPage(RegionTime time)
{
    private static readonly ResourceManager Resources = new("Stadig.Resources.DowntimeTexts", typeof(DowntimeTexts).Assembly);
    private static readonly CultureInfo Swedish = CultureInfo.GetCultureInfo("sv-SE");

    /// <summary>The region's language: the snapshot is read on the wards, whatever an operator's browser prefers.</summary>
    public CultureInfo Culture { get; init; } = Swedish;

    internal string T(string key) => Resources.GetString(key, Culture) ?? key;

    internal string T(string key, params object[] args) => string.Format(Culture, T(key), args);

    /// <summary>The authenticated, unencrypted header: which unit and when, so a file is known before its key is typed.</summary>
    public static string AssociatedData(UnitSnapshot snapshot) =>
        $"{snapshot.Unit.HsaId}|{snapshot.TakenAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)}";

    /// <summary>The record part, shown once decrypted: the ward list, then one page per patient.</summary>
    public string Body(UnitSnapshot snapshot)
    {
        var html = new StringBuilder(16_384);
        var stamp = T("TakenAt", time.Format(snapshot.TakenAt));
        var today = time.Day(snapshot.TakenAt);
        html.Append("<section id=\"ward-list\" class=\"sheet\"><p class=\"stamp\">").Append(E(stamp)).Append("</p><h2>").Append(E(T("WardList")))
            .Append("</h2>");
        if (snapshot.Patients.Count == 0) html.Append("<p>").Append(E(T("NoPatients"))).Append("</p>");
        else
        {
            html.Append("<table><thead><tr><th scope=\"col\">").Append(E(T("Bed"))).Append("</th><th scope=\"col\">").Append(E(T("Patient")))
                .Append("</th><th scope=\"col\">").Append(E(T("Identifier"))).Append("</th><th scope=\"col\">").Append(E(T("Age")))
                .Append("</th><th scope=\"col\">").Append(E(T("AdmittedAt"))).Append("</th><th scope=\"col\">").Append(E(T("Warnings"))).Append("</th></tr></thead><tbody>");
            var n = 0;
            foreach (var p in snapshot.Patients)
            {
                var patient = p.Ward.Patient;
                html.Append("<tr><td>").Append(E(p.Ward.Bed ?? "")).Append("</td><td><a href=\"#patient-").Append(++n).Append("\">").Append(E(Name(patient)))
                    .Append("</a>").Append(patient.ProtectedIdentity != ProtectedIdentity.None ? " <strong class=\"protected\">!</strong>" : "")
                    .Append("</td><td>").Append(E(patient.IdentifierDisplay)).Append("</td><td>").Append(E(Age(patient, today)))
                    .Append("</td><td>").Append(E(time.Format(p.Ward.AdmittedAt))).Append("</td><td>")
                    .Append(E(string.Join(", ", p.Warnings.Select(w => w.Agent ?? w.Text)))).Append("</td></tr>");
            }
            html.Append("</tbody></table>");
        }
        html.Append("</section>");
        var i = 0;
        foreach (var p in snapshot.Patients) AppendPatient(html, p, ++i, stamp, snapshot.TakenAt, today);
        return html.ToString();
    }

    private void AppendPatient(StringBuilder html, SnapshotPatient p, int n, string stamp, DateTimeOffset takenAt, DateOnly today)
    {
        var patient = p.Ward.Patient;
        html.Append("<section class=\"patient sheet\" id=\"patient-").Append(n).Append("\"><p class=\"stamp\">").Append(E(stamp)).Append("</p>");
        html.Append("<header class=\"banner\"><h2>").Append(E(Name(patient))).Append("</h2><p>").Append(E(patient.IdentifierDisplay)).Append(" · ")
            .Append(E(Age(patient, today))).Append(" · ").Append(E(T("Sex_" + patient.Sex))).Append(" · ").Append(E(T("Bed"))).Append(' ')
            .Append(E(p.Ward.Bed ?? "")).Append("</p>");
        if (patient.ProtectedIdentity != ProtectedIdentity.None)
            html.Append("<p class=\"protected\" role=\"note\">").Append(E(T("ProtectedIdentity"))).Append("</p>");
        html.Append("</header>");
        if (p.BlockedRecordsWithheld) html.Append("<p class=\"blocked\">").Append(E(T("BlockedWithheld"))).Append("</p>");

        html.Append("<h3>").Append(E(T("Warnings"))).Append("</h3>");
        if (p.Warnings.Count == 0) html.Append("<p>").Append(E(T("NoWarnings"))).Append("</p>");
        else
        {
            html.Append("<ul class=\"warnings\">");
            foreach (var w in WarningsInOrder(p))
            {
                var (category, text, origin) = Warning(w);
                html.Append("<li><strong>").Append(E(category)).Append(":</strong> ").Append(E(text))
                    .Append(" <span class=\"origin\">(").Append(E(origin)).Append(")</span></li>");
            }
            html.Append("</ul>");
        }

        html.Append("<h3>").Append(E(T("Problems"))).Append("</h3>");
        if (p.Problems.Count == 0) html.Append("<p>").Append(E(T("NoProblems"))).Append("</p>");
        else
        {
            html.Append("<ul>");
            foreach (var problem in p.Problems)
                html.Append("<li>").Append(E(Problem(problem).Text)).Append(" <span class=\"origin\">(").Append(E(Problem(problem).Origin)).Append(")</span></li>");
            html.Append("</ul>");
        }

        html.Append("<h3>").Append(E(T("Medications"))).Append("</h3>");
        if (p.Medications.Count == 0) html.Append("<p>").Append(E(T("NoMedications"))).Append("</p>");
        else
        {
            html.Append("<table class=\"medications\"><thead><tr><th scope=\"col\">").Append(E(T("Product"))).Append("</th><th scope=\"col\">")
                .Append(E(T("Dosage"))).Append("</th><th scope=\"col\">").Append(E(T("Route"))).Append("</th><th scope=\"col\">").Append(E(T("DueNext")))
                .Append("</th></tr></thead><tbody>");
            foreach (var order in p.Medications)
            {
                var v = order.Current;
                html.Append("<tr><td>").Append(E(v.ProductText)).Append("</td><td>").Append(E(v.DosageText));
                if (!string.IsNullOrWhiteSpace(v.Instructions)) html.Append("<br><span class=\"origin\">").Append(E(v.Instructions)).Append("</span>");
                html.Append("</td><td>").Append(E(v.Route ?? "")).Append("</td><td>").Append(E(Due(v, takenAt))).Append("</td></tr>");
            }
            html.Append("</tbody></table>");
        }

        html.Append("<h3>").Append(E(T("Results"))).Append("</h3>");
        if (p.Results.Count == 0) html.Append("<p>").Append(E(T("NoResults"))).Append("</p>");
        else
        {
            html.Append("<table class=\"results\"><thead><tr><th scope=\"col\">").Append(E(T("Taken"))).Append("</th><th scope=\"col\">")
                .Append(E(T("Analysis"))).Append("</th><th scope=\"col\">").Append(E(T("Value"))).Append("</th><th scope=\"col\">").Append(E(T("Reference")))
                .Append("</th></tr></thead><tbody>");
            foreach (var r in p.Results)
            {
                var (value, flag, reference) = Result(r);
                html.Append("<tr><td>").Append(E(time.Format(r.ObservedAt))).Append("</td><td>").Append(E(r.AnalysisName)).Append("</td><td>")
                    .Append(E(value)).Append(flag is null ? "" : $" <strong>{E(flag)}</strong>")
                    .Append("</td><td>").Append(E(reference)).Append("</td></tr>");
            }
            html.Append("</tbody></table>");
        }

        html.Append("<h3>").Append(E(T("Notes"))).Append("</h3>");
        if (p.Notes.Count == 0) html.Append("<p>").Append(E(T("NoNotes"))).Append("</p>");
        foreach (var note in p.Notes)
        {
            html.Append("<article class=\"note\"><h4>").Append(E(note.NoteType)).Append("</h4><p class=\"origin\">")
                .Append(E(NoteSigned(note))).Append("</p>");
            foreach (var k in note.Keywords.Where(k => k.Text.Length > 0))
                html.Append("<p><strong>").Append(E(k.Keyword)).Append(":</strong> <span class=\"text\">").Append(E(k.Text)).Append("</span></p>");
            html.Append("</article>");
        }
        html.Append("</section>");
    }

    /// <summary>The whole file: the unit and time in clear, the key form, the sealed record and the script that opens it.</summary>
    public string File(UnitSnapshot snapshot, SealedPayload payload)
    {
        var title = T("SnapshotTitle", snapshot.Unit.Name);
        var stamp = T("TakenAt", time.Format(snapshot.TakenAt));
        var texts = JsonSerializer.Serialize(new { wrongKey = T("WrongKey"), noCrypto = T("NoWebCrypto"), opening = T("Opening"), open = T("Open") });
        var data = JsonSerializer.Serialize(payload, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
        return $$"""
            <!DOCTYPE html>
            <html lang="{{Culture.TwoLetterISOLanguageName}}">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
            <title>{{E(title)}} – {{E(time.Format(snapshot.TakenAt))}}</title>
            <style>{{Style}}</style>
            </head>
            <body>
            <header class="snapshot-head">
            <h1>{{E(title)}}</h1>
            <p class="stamp" id="taken-at">{{E(stamp)}}</p>
            <p>{{E(T("TakenAtHelp", time.Format(snapshot.TakenAt)))}}</p>
            </header>
            <form id="unlock" autocomplete="off">
            <p>{{E(T("UnlockHelp"))}}</p>
            <label for="key">{{E(T("KeyLabel"))}}</label>
            <input id="key" name="key" type="password" autocomplete="off" spellcheck="false" required autofocus>
            <button type="submit" id="open">{{E(T("Open"))}}</button>
            <p id="error" class="error" role="alert" hidden></p>
            </form>
            <p class="actions" hidden id="actions"><button type="button" id="print">{{E(T("Print"))}}</button></p>
            <main id="record"></main>
            <footer class="page-stamp">{{E(title)}} · {{E(stamp)}}</footer>
            <script type="application/json" id="sealed">{{ScriptSafe(data)}}</script>
            <script type="application/json" id="texts">{{ScriptSafe(texts)}}</script>
            <script>{{Script}}</script>
            </body>
            </html>
            """;
    }

    // What each value reads as, shared with the PDF (SnapshotPdf) so that both show the same record in the same words.

    internal string Name(Patient patient) => patient.SortName ?? patient.IdentifierDisplay;

    internal string Age(Patient patient, DateOnly today) => patient.AgeOn(today) is { } age ? T("Years", age) : "";

    /// <summary>Hypersensitivities first, as the banner has them.</summary>
    internal static IEnumerable<WarningItem> WarningsInOrder(SnapshotPatient p) => p.Warnings.OrderBy(w => w.Category == "Hypersensitivity" ? 0 : 1);

    internal (string Category, string Text, string Origin) Warning(WarningItem w)
    {
        var text = new StringBuilder(w.Agent ?? w.Text);
        // A hypersensitivity's text is made from its agent and reaction: shown once, as its parts.
        var severity = w.Severity is null ? null : Resources.GetString("Severity_" + w.Severity, Culture) ?? w.Severity;
        foreach (var extra in new[] { w.Agent is null || w.Category == "Hypersensitivity" ? null : w.Text, w.Reaction, severity })
            if (!string.IsNullOrWhiteSpace(extra) && extra != w.Agent) text.Append(" – ").Append(extra);
        return (T("WarningCategory_" + w.Category), text.ToString(), w.Source ?? w.UnitName);
    }

    internal static (string Text, string Origin) Problem(ProblemItem problem) =>
        (problem.Code + (problem.Code.Length > 0 ? " " : "") + problem.Text, problem.Source ?? problem.UnitName);

    /// <summary>When the ordination is due in the day after the snapshot (region time), or "as needed".</summary>
    internal string Due(MedicationVersion v, DateTimeOffset takenAt) =>
        v.AsNeeded ? T("AsNeeded") : string.Join(", ", UnitSnapshotReader.DueWithinDay(v, takenAt, time).Select(d => time.ToRegion(d).ToString("HH:mm", CultureInfo.InvariantCulture)));

    /// <summary>The value with its unit, the abnormal flag when there is one, and the reference range.</summary>
    internal (string Value, string? Flag, string Reference) Result(ResultItem r)
    {
        var value = r.ValueNumeric is { } number ? number.ToString("0.###", Culture) : r.ValueText ?? "";
        var reference = r.ReferenceRange ?? (r.ReferenceLow is not null || r.ReferenceHigh is not null
            ? $"{r.ReferenceLow?.ToString("0.###", Culture)}–{r.ReferenceHigh?.ToString("0.###", Culture)}" : "");
        return ($"{value} {r.Unit}".Trim(), string.IsNullOrEmpty(r.AbnormalFlag) || r.AbnormalFlag == "N" ? null : r.AbnormalFlag, reference);
    }

    internal string NoteSigned(Note note) => T("NoteSigned", time.Format(note.SignedAt ?? note.CreatedAt), note.UnitName, note.AuthorName);

    internal RegionTime Time => time;

    /// <summary>Every value is text: the five characters that mean something in HTML are escaped, nothing else is changed.</summary>
    private static string E(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var html = new StringBuilder(text.Length + 16);
        foreach (var c in text)
            html.Append(c switch { '&' => "&amp;", '<' => "&lt;", '>' => "&gt;", '"' => "&quot;", '\'' => "&#39;", _ => c.ToString() });
        return html.ToString();
    }

    /// <summary>JSON inside a script element: "&lt;/" must not close it.</summary>
    private static string ScriptSafe(string json) => json.Replace("</", "<\\/", StringComparison.Ordinal);

    private const string Style =
        """
        body { font-family: system-ui, "Segoe UI", Arial, sans-serif; margin: 1.5rem; color: #111; line-height: 1.4; }
        h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.25rem; margin: .25rem 0; } h3 { font-size: 1.05rem; margin: 1rem 0 .25rem; border-bottom: 1px solid #999; }
        h4 { margin: .5rem 0 0; font-size: 1rem; }
        .stamp { font-weight: 600; color: #7a2e00; margin: 0; }
        form#unlock { max-width: 32rem; padding: 1rem; border: 2px solid #1a4f8b; border-radius: 6px; }
        label { display: block; font-weight: 600; margin-bottom: .25rem; }
        input#key { font-size: 1.1rem; padding: .4rem; width: 100%; box-sizing: border-box; margin-bottom: .5rem; }
        button { font-size: 1rem; padding: .4rem 1rem; }
        .error { color: #a00000; font-weight: 600; }
        table { border-collapse: collapse; width: 100%; margin: .25rem 0; }
        th, td { border: 1px solid #bbb; padding: .2rem .4rem; text-align: left; vertical-align: top; }
        th { background: #eef2f7; }
        .banner { border: 2px solid #1a4f8b; border-radius: 6px; padding: .5rem .75rem; margin: .5rem 0; }
        .banner p { margin: .1rem 0; }
        .protected { color: #a00000; font-weight: 700; }
        .blocked { font-style: italic; }
        .warnings li { color: #7a0000; }
        .origin { color: #555; font-size: .9em; }
        .text { white-space: pre-wrap; }
        .note { margin-bottom: .5rem; }
        .sheet { margin-top: 2rem; }
        .page-stamp { display: none; }
        @media print {
          body { margin: 0; font-size: 10.5pt; }
          form#unlock, .actions, .snapshot-head p:not(.stamp) { display: none; }
          .sheet { margin-top: 0; }
          .patient { break-before: page; }
          tr, .note p { break-inside: avoid; }
          .page-stamp { display: block; position: fixed; bottom: 0; left: 0; right: 0; font-size: 8.5pt; color: #444; border-top: 1px solid #999; background: #fff; }
          @page { margin: 14mm 12mm 16mm; }
        }
        """;

    private const string Script =
        """
        (function () {
          var sealedData = JSON.parse(document.getElementById('sealed').textContent);
          var texts = JSON.parse(document.getElementById('texts').textContent);
          var form = document.getElementById('unlock'), key = document.getElementById('key'), error = document.getElementById('error');
          var button = document.getElementById('open');
          function bytes(base64) { var s = atob(base64), b = new Uint8Array(s.length); for (var i = 0; i < s.length; i++) b[i] = s.charCodeAt(i); return b; }
          function fail(message) { error.textContent = message; error.hidden = false; button.disabled = false; button.textContent = texts.open; key.focus(); }
          if (!window.crypto || !window.crypto.subtle) { fail(texts.noCrypto); button.disabled = true; return; }
          document.getElementById('print').addEventListener('click', function () { window.print(); });
          form.addEventListener('submit', async function (event) {
            event.preventDefault();
            error.hidden = true; button.disabled = true; button.textContent = texts.opening;
            try {
              var encoder = new TextEncoder();
              var material = await crypto.subtle.importKey('raw', encoder.encode(key.value.trim().normalize('NFC')), 'PBKDF2', false, ['deriveKey']);
              var aes = await crypto.subtle.deriveKey({ name: 'PBKDF2', salt: bytes(sealedData.salt), iterations: sealedData.iterations, hash: 'SHA-256' },
                material, { name: 'AES-GCM', length: 256 }, false, ['decrypt']);
              var plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes(sealedData.iv), additionalData: encoder.encode(sealedData.aad), tagLength: 128 },
                aes, bytes(sealedData.data));
              document.getElementById('record').innerHTML = new TextDecoder().decode(plain);
              form.hidden = true; key.value = '';
              document.getElementById('actions').hidden = false;
            } catch (e) {
              fail(texts.wrongKey);
            }
          });
        })();
        """;
}
