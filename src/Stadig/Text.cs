using System.Resources;

[assembly: NeutralResourcesLanguage("sv")]
// The assembly is named "stadig" (the command) but its namespaces are "Stadig": tell the localizer.
[assembly: Microsoft.Extensions.Localization.RootNamespace("Stadig")]

namespace Stadig;

/// <summary>Marker type for the UI texts in Resources/Text.resx (Swedish) and Text.en.resx (English).</summary>
public sealed class Text;
