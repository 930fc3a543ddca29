using System.Reflection;

namespace Stadig.Hosting;

/// <summary>Finds configuration keys under "Stadig" that no option reads: most often a typo.</summary>
public static class ConfigurationCheck
{
    public static IReadOnlyList<string> UnknownKeys(IConfiguration configuration)
    {
        var unknown = new List<string>();
        Walk(configuration.GetSection(StadigOptions.Section), typeof(StadigOptions), unknown);
        return unknown;
    }

    private static void Walk(IConfigurationSection section, Type type, List<string> unknown)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var property))
            {
                unknown.Add(child.Path);
                continue;
            }
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            // A list's children are its items ("0", "1", …), not settings.
            if (propertyType.IsClass && propertyType != typeof(string) && !propertyType.IsArray) Walk(child, propertyType, unknown);
        }
    }
}
