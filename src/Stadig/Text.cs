using System.Resources;

[assembly: NeutralResourcesLanguage("sv")]

namespace Stadig;

/// <summary>Marker type for the UI texts in Resources/Text.resx (Swedish) and Text.en.resx (English).</summary>
public sealed class Text;
