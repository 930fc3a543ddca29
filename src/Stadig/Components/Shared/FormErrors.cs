using Microsoft.AspNetCore.Components.Forms;
using Stadig.Common;

namespace Stadig.Components.Shared;

/// <summary>
/// Puts a use case's <see cref="InvalidInputException"/> on the form field it names, so the message
/// stands at the field and the field is marked invalid (aria-invalid) for screen readers.
/// </summary>
public sealed class FormErrors
{
    private readonly EditContext _context;
    private readonly ValidationMessageStore _messages;

    public FormErrors(EditContext context)
    {
        _context = context;
        _messages = new ValidationMessageStore(context);
    }

    public EditContext Context => _context;

    public void Show(InvalidInputException error)
    {
        _messages.Clear();
        // Use cases name fields in camelCase ("familyName"); the form model's properties are PascalCase.
        var property = char.ToUpperInvariant(error.Field[0]) + error.Field[1..];
        var hasProperty = _context.Model.GetType().GetProperty(property) is not null;
        if (hasProperty) _messages.Add(new FieldIdentifier(_context.Model, property), error.Message);
        _context.NotifyValidationStateChanged();
    }
}
