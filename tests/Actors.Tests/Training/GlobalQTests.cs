using Moe.Actors.Training;

namespace Moe.Actors.Tests.Training;

public class GlobalQTests
{
    [Fact]
    public void A_round_keeps_per_layer_the_newest_q_any_contributor_had()
    {
        var a = new GlobalQ([10, 7], [[1f, 1f], [2f, 2f]]);
        var b = new GlobalQ([9, 8], [[3f, 3f], [4f, 4f]]);
        var none = new GlobalQ([-1, -1], [[0f, 0f], [0f, 0f]]);

        var newest = GlobalQ.Newest([none, a, null, b])!;

        Assert.Equal([10L, 8L], newest.Steps);
        Assert.Equal([1f, 1f], newest.Q[0]);
        Assert.Equal([4f, 4f], newest.Q[1]);
        Assert.Null(GlobalQ.Newest([null, null]));
    }
}
