using System.Text.Json;
using Stadig.Regulatory;

namespace Stadig.Tests.Readiness;

public class SoupListTests
{
    [Fact]
    [Hazard("H-08")]
    public void Every_shipped_package_has_a_stated_purpose()
    {
        var soup = SoupList.Read(Evidence.RepositoryRoot);
        Assert.Contains(soup.Items, i => i.Name == "Npgsql" && i.Direct && i.Licence == "PostgreSQL");
        Assert.Contains(soup.Items, i => i.Name == "Newtonsoft.Json" && !i.Direct);
        Assert.True(soup.IsComplete, "Packages without a purpose in docs/regulatory/soup-purpose.json: " + string.Join(", ", soup.MissingPurpose));
    }

    [Fact]
    [Hazard("H-08")]
    public void A_package_missing_from_the_purpose_map_makes_the_SOUP_list_incomplete()
    {
        var assets = File.ReadAllText(Path.Combine(Evidence.RepositoryRoot, SoupList.ShippedProject, "obj", "project.assets.json"));
        var purposes = SoupList.ReadPurposes(Path.Combine(Evidence.RepositoryRoot, "docs", "regulatory", SoupList.PurposeFileName))
            .Where(p => p.Key != "Dapper").ToDictionary();
        var soup = SoupList.FromAssets(assets, purposes);

        Assert.Equal(["Dapper"], soup.MissingPurpose);
        var file = RegulatoryFile.Build("intended use", Evidence.Hazards, soup, Evidence.AllHazardTests(), Evidence.Release, DateTimeOffset.UnixEpoch);
        Assert.Equal(["SOUP: package Dapper has no stated purpose in docs/regulatory/soup-purpose.json."], file.Problems);
    }

    [Fact]
    [Hazard("H-08")]
    public void A_package_in_the_CycloneDX_SBOM_but_not_in_the_SOUP_list_makes_the_regulatory_file_incomplete()
    {
        var soup = SoupList.Read(Evidence.RepositoryRoot);
        var dapper = soup.Items.Single(i => i.Name == "Dapper").Version;
        string Bom(bool spoilt) => JsonSerializer.Serialize(new
        {
            bomFormat = "CycloneDX", specVersion = "1.6",
            components = soup.Items.Select(i => (Name: i.Name, Version: spoilt && i.Name == "Dapper" ? "9.9.9" : i.Version))
                .Concat(spoilt ? [("Unlisted.Package", "1.0.0")] : [])
                .Select(c => new { type = "library", name = c.Name, version = c.Version, purl = $"pkg:nuget/{c.Name}@{c.Version}" })
                // A project of our own is named without a NuGet purl: Stadig, not SOUP.
                .Append(new { type = "library", name = "Stadig.Core", version = "1.0.0", purl = "" }),
        });

        var same = soup.CheckedAgainst(Bom(spoilt: false), "sbom.cdx.json");
        Assert.Equal((soup.Items.Count, 0), (same.Sbom!.Components, same.Sbom.Differences.Count));
        Assert.True(same.IsComplete);

        var spoilt = soup.CheckedAgainst(Bom(spoilt: true), "sbom.cdx.json");
        Assert.Equal([$"package Dapper is {dapper} in the SOUP list but 9.9.9 in the CycloneDX SBOM.",
            "package Unlisted.Package 1.0.0 is in the CycloneDX SBOM but not in the SOUP list."], spoilt.Sbom!.Differences);
        var file = RegulatoryFile.Build("intended use", Evidence.Hazards, spoilt, Evidence.AllHazardTests(), Evidence.Release, DateTimeOffset.UnixEpoch);
        Assert.False(file.Complete);
        Assert.Contains("SOUP: package Unlisted.Package 1.0.0 is in the CycloneDX SBOM but not in the SOUP list.", file.Problems);
        Assert.Contains("2 difference(s)", file.ToMarkdown());

        Assert.Throws<EvidenceException>(() => soup.CheckedAgainst("""{"components":[]}""", "sbom.cdx.json"));
    }
}
