namespace Moe.Model.Tests;

public class SmokeTests
{
    [Fact]
    public void TensorCodeRuns() => Assert.Equal(3f, Placeholder.Probe());
}
