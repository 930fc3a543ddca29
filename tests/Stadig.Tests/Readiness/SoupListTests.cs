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
}
