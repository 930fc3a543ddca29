using System.Net;
using System.Text.RegularExpressions;

namespace Stadig.Rehearsal;

/// <summary>
/// The ward's medication round (issue #18): the round's page, then a physician opens an inpatient's
/// medication list and prescribes an as-needed dose (going past the checks with a reason, as the list
/// usually holds paracetamol already), and a nurse gives a dose that is due, overdue or as needed.
/// High-risk doses are left alone: their second nurse signs in at the bedside, which one simulated
/// nurse cannot do. The as-needed ordinations the physicians write keep the nurses' supply of doses.
/// </summary>
public sealed partial class ClinicianSession
{
    private async Task MedicationRoundAsync(CancellationToken stopping)
    {
        var round = await recorder.MeasureAsync(Actions.MedicationRound, () => GetPageAsync("/ward/medication", stopping), stopping);
        if (!await ContinueAsync(round, stopping)) return;
        await ThinkAsync(config.Think.AfterList);
        if (isPhysician) await PrescribeAsync(round.Value!, stopping);
        else await AdministerAsync(round.Value!, stopping);
    }

    private async Task PrescribeAsync(string roundPage, CancellationToken stopping)
    {
        var patients = RoundPatients().Matches(roundPage).Select(m => m.Groups[1].Value).Distinct().ToList();
        if (patients.Count == 0) return;
        var patient = patients[_random.Next(patients.Count)];
        var list = await recorder.MeasureAsync(Actions.MedicationList, () => GetPageAsync($"/patients/{patient}/medication", stopping), stopping);
        if (!await ContinueAsync(list, stopping)) return;
        await ThinkAsync(config.Think.ReadResults);

        // Choosing the product (its search and its form) is timed as the pages it is; the prescription is its
        // posts, judged against issue 18's 50 ms as the note's signing is its post and not the editor before it.
        // The form shows the product's checks (a duplicate of the paracetamol already given, most often): the
        // physician gives the reason with the dose and signs once; a check the signing meets that the form did
        // not show stands on the answered page, and is signed past in a second post.
        var chosen = await recorder.MeasureAsync(Actions.PrescribeForm, async () =>
        {
            var search = await GetPageAsync($"/patients/{patient}/medication/prescribe?q=alvedon+500", stopping);
            if (!search.IsOk) return search;
            if (ProductLinks().Match(search.Value!) is not { Success: true } pick) return ActionResult<string>.Error("no product found");
            return await GetPageAsync(WebUtility.HtmlDecode(pick.Groups[1].Value), stopping);
        }, stopping);
        if (!await ContinueAsync(chosen, stopping)) return;
        var form = chosen.Value!;
        var signed = await recorder.MeasureAsync(Actions.Prescribe, async () =>
        {
            var fields = new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = Token(form), ["_handler"] = "prescribe", ["Input.ProductId"] = ProductField().Match(form).Groups[1].Value,
                ["Input.DoseValue"] = "1", ["Input.DoseUnit"] = "tablett", ["Input.Schedule"] = "AsNeeded", ["Input.MaxDosesPer24h"] = "4",
                ["Input.Indication"] = "Smärta", ["Input.Origin"] = "OtherSystem",
            };
            PastChecks(form, fields);
            using var first = await _http.PostAsync($"/patients/{patient}/medication/prescribe", new FormUrlEncodedContent(fields), stopping);
            if (Redirected(first, out var location)) return location.Contains("/medication", StringComparison.Ordinal) ? ActionResult<bool>.Ok(true) : Failed<bool>(first, "not prescribed");
            if (first.StatusCode != HttpStatusCode.OK) return Failed<bool>(first, "");
            var page = await first.Content.ReadAsStringAsync(stopping);
            if (!PastChecks(page, fields)) return ActionResult<bool>.Error("200 without checks (refused)");
            fields["__RequestVerificationToken"] = Token(page);
            using var second = await _http.PostAsync($"/patients/{patient}/medication/prescribe", new FormUrlEncodedContent(fields), stopping);
            return Redirected(second, out var again) && again.Contains("/medication", StringComparison.Ordinal) ? ActionResult<bool>.Ok(true) : Failed<bool>(second, "not signed");
        }, stopping);
        await ContinueAsync(signed, stopping);
    }

    private async Task AdministerAsync(string roundPage, CancellationToken stopping)
    {
        // Doses and as-needed ordinations whose block names no high-risk product.
        var links = DoseBlocks().Matches(roundPage).Select(m => m.Value).Where(b => !b.Contains("high-risk", StringComparison.Ordinal))
            .Select(b => AdministerLinks().Match(b)).Where(m => m.Success).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();
        if (links.Count == 0) return;
        var link = links[_random.Next(links.Count)];
        var form = await recorder.MeasureAsync(Actions.AdministerForm, () => GetPageAsync(link, stopping), stopping);
        if (!await ContinueAsync(form, stopping)) return;
        var given = await recorder.MeasureAsync(Actions.Administer, async () =>
        {
            var path = link.Split('?')[0];
            var fields = new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = Token(form.Value!), ["_handler"] = "administer", ["Input.Outcome"] = "Given", ["Input.DoseValue"] = "",
                ["Input.GivenAt"] = "", ["Input.Reason"] = link.Contains("&at=", StringComparison.Ordinal) ? "" : "Smärta VAS 5",
            };
            using var response = await _http.PostAsync(link, new FormUrlEncodedContent(fields), stopping);
            if (Redirected(response, out var location)) return location.StartsWith("/ward/medication", StringComparison.Ordinal) ? ActionResult<bool>.Ok(true) : Failed<bool>(response, "not recorded");
            if (response.StatusCode != HttpStatusCode.OK) return Failed<bool>(response, "");
            // Another nurse was first with the same dose, or the as-needed maximum was reached meanwhile: the page says so, and that is the system working.
            var page = await response.Content.ReadAsStringAsync(stopping);
            return page.Contains("redan dokumenterad", StringComparison.Ordinal) || page.Contains("under tiden", StringComparison.Ordinal)
                || page.Contains("Högst ", StringComparison.Ordinal) ? ActionResult<bool>.Ok(true) : ActionResult<bool>.Error($"200 without a record ({path.Split('/')[^1]})");
        }, stopping);
        await ContinueAsync(given, stopping);
    }

    /// <summary>The checks a page shows, signed past with a reason that covers them (their fingerprints posted back); false: none shown.</summary>
    private static bool PastChecks(string page, Dictionary<string, string> fields)
    {
        if (SeenChecksField().Match(page) is not { Success: true } seen) return false;
        fields["Input.SeenChecks"] = seen.Groups[1].Value;
        fields["Input.OverrideReason"] = "Vid genombrottssmärta, total dygnsdos under 4 g";
        return true;
    }

    [GeneratedRegex("name=\"Input\\.SeenChecks\" value=\"([0-9a-f,]*)\"")]
    private static partial Regex SeenChecksField();

    [GeneratedRegex("href=\"/patients/([0-9a-fA-F-]{36})/medication\"")]
    private static partial Regex RoundPatients();

    [GeneratedRegex("href=\"(/patients/[0-9a-fA-F-]{36}/medication/prescribe\\?[^\"]*product=[^\"]+)\"")]
    private static partial Regex ProductLinks();

    [GeneratedRegex("name=\"Input\\.ProductId\" value=\"([0-9a-fA-F-]{36})\"")]
    private static partial Regex ProductField();

    [GeneratedRegex("<li class=\"dose dose-(?:due|overdue)\".*?</li>|<div class=\"as-needed\".*?</div>", RegexOptions.Singleline)]
    private static partial Regex DoseBlocks();

    [GeneratedRegex("href=\"(/patients/[0-9a-fA-F-]{36}/medication/administer\\?[^\"]+)\"")]
    private static partial Regex AdministerLinks();
}
