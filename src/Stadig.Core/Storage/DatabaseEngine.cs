namespace Stadig.Storage;

public enum DatabaseEngine
{
    Sqlite,
    Postgres,
}
