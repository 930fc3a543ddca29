namespace Stadig.Tests.Infrastructure;

public class LongestFirstCollectionOrdererTests
{
    [Fact]
    public void The_orderer_recognises_a_class_collection_by_the_name_xunit_gives_it()
    {
        // The display name xunit gives this very class's collection, whatever its exact form.
        var displayName = TestContext.Current.TestCollection!.TestCollectionDisplayName;
        Assert.Equal(0, LongestFirstCollectionOrderer.Rank(displayName, [typeof(LongestFirstCollectionOrdererTests).FullName!]));
        Assert.Equal(1, LongestFirstCollectionOrderer.Rank(displayName, ["Stadig.Tests.Infrastructure.LongestFirst"]));
        Assert.Equal(0, LongestFirstCollectionOrderer.Rank("Browser", LongestFirstCollectionOrderer.Longest));
    }

    [Fact]
    public void Every_listed_collection_still_exists()
    {
        var classes = typeof(LongestFirstCollectionOrdererTests).Assembly.GetTypes().Select(t => t.FullName).ToHashSet();
        var named = typeof(LongestFirstCollectionOrdererTests).Assembly.GetTypes()
            .SelectMany(t => t.GetCustomAttributes(typeof(CollectionAttribute), false).Cast<CollectionAttribute>()).Select(c => c.Name).ToHashSet();
        Assert.All(LongestFirstCollectionOrderer.Longest, name => Assert.True(classes.Contains(name) || named.Contains(name), $"{name} is in the orderer's list but no such test class or collection exists"));
    }
}
