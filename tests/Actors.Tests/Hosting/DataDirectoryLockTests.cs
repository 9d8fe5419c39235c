using Moe.Actors.Hosting;
using Moe.Testing;

namespace Moe.Actors.Tests.Hosting;

public sealed class DataDirectoryLockTests
{
    [Fact]
    public void A_second_owner_of_a_data_directory_is_refused_with_the_holders_process_id_until_the_first_lets_go()
    {
        using var temp = new TempDirectory();
        var first = DataDirectoryLock.Acquire(temp.Path);

        var refused = Assert.Throws<DataDirectoryInUseException>(() => DataDirectoryLock.Acquire(temp.Path));
        Assert.Contains(temp.Path, refused.Message, StringComparison.Ordinal);
        Assert.Contains($"process {Environment.ProcessId}", refused.Message, StringComparison.Ordinal);

        first.Dispose();
        DataDirectoryLock.Acquire(temp.Path).Dispose(); // released: the next process takes it over
    }
}
