namespace Moe.Actors.Tests.Support;

/// <summary>
/// The PostgreSQL server the tests use: MOE_TEST_POSTGRES holds an Npgsql connection string (.ci/run starts a
/// server and sets it). Without it, PostgreSQL tests are skipped with a message saying how to run them.
/// </summary>
internal static class TestDatabases
{
    public const string Variable = "MOE_TEST_POSTGRES";

    public static string PostgreSql()
    {
        var connection = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(connection))
            Assert.Skip($"{Variable} is not set; .ci/run starts PostgreSQL and sets it.");
        return connection;
    }
}
