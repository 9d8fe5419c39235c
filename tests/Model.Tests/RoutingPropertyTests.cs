using CsCheck;
using Moe.Model.Balancing;
using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Model.Tests;

/// <summary>Properties that must hold for every valid batch shape, K, skew and score function.</summary>
public class RoutingPropertyTests
{
    private sealed record Case(int Tokens, int Experts, int TopK, int Seed, double Skew, ScoreFunction Function, int Iterations)
    {
        public RouterConfig Config => new(Experts, TopK, Function, Iterations: Iterations);

        public Tensor Scores() => TestScores.Make(Tokens, Experts, Seed, Skew, Function);
    }

    private static readonly Gen<Case> Cases =
        from experts in Gen.Int[1, 24]
        from topK in Gen.Int[1, experts]
        from tokens in Gen.Int[1, 300]
        from seed in Gen.Int
        from skew in Gen.Double[0, 10]
        from sigmoid in Gen.Bool
        from iterations in Gen.Int[1, 5]
        select new Case(tokens, experts, topK, seed, skew, sigmoid ? ScoreFunction.Sigmoid : ScoreFunction.Softmax, iterations);

    private static readonly RouterKind[] Kinds = [.. RouterKinds.All];

    [Fact]
    public void Every_router_takes_K_distinct_experts_per_token_with_weights_from_the_scores() =>
        Cases.Sample(c =>
        {
            using var scope = NewDisposeScope();
            var scores = c.Scores();
            foreach (var kind in Kinds)
            {
                var decision = Routers.Create(kind, c.Config with { NormalizeTopK = false }).Route(scores);
                var experts = TestScores.ToLongs(decision.Experts);
                for (var i = 0; i < c.Tokens; i++)
                    Assert.Equal(c.TopK, experts.Skip(i * c.TopK).Take(c.TopK).Distinct().Count());
                Assert.True(decision.Weights.equal(scores.gather(1, decision.Experts)).all().item<bool>());
                Assert.Equal(TestScores.ToLongs(decision.Experts.flatten().bincount(null, c.Experts)), TestScores.ToLongs(decision.Loads));
            }
        }, iter: 60);

    [Fact]
    public void Bip_prices_are_never_negative() =>
        Cases.Sample(c =>
        {
            using var scope = NewDisposeScope();
            var router = new BipRouter(c.Config);
            router.Route(c.Scores());
            Assert.All(TestScores.ToArray(router.State!), v => Assert.True(v >= 0));
        }, iter: 60);

    [Fact]
    public void Permuting_tokens_changes_neither_prices_nor_loads() =>
        Cases.Sample(c =>
        {
            using var scope = NewDisposeScope();
            var scores = c.Scores();
            var permutation = TestPermutation(c.Tokens, c.Seed);
            foreach (var clip in new[] { true, false })
            {
                var q = DualBalancing.Solve(scores, zeros(c.Experts), c.TopK, c.Iterations, clip);
                var qPermuted = DualBalancing.Solve(scores.index_select(0, permutation), zeros(c.Experts), c.TopK, c.Iterations, clip);
                Assert.Equal(TestScores.ToArray(q), TestScores.ToArray(qPermuted));
            }
        }, iter: 40);

    /// <summary>
    /// Prices permute exactly. Choices permute too, except for tokens on the margin: the token that sets q[j] is
    /// indifferent between expert j and its (K+1)-th choice (s - q ties), and top-K breaks ties by index.
    /// </summary>
    [Fact]
    public void Permuting_experts_permutes_prices_and_choices() =>
        Cases.Sample(c =>
        {
            using var scope = NewDisposeScope();
            var scores = c.Scores();
            var permutation = TestPermutation(c.Experts, c.Seed);
            var mapBack = TestScores.ToLongs(permutation);
            foreach (var kind in new[] { RouterKind.Bip, RouterKind.QuantileBalancing })
            {
                var original = Routers.Create(kind, c.Config);
                var permuted = Routers.Create(kind, c.Config);
                var chosen = TestScores.ToLongs(original.Route(scores).Experts);
                var chosenPermuted = TestScores.ToLongs(permuted.Route(scores.index_select(1, permutation)).Experts);
                Assert.Equal(TestScores.ToArray(original.State!.index_select(0, permutation)), TestScores.ToArray(permuted.State!));

                var tied = TiedAtTheMargin(scores - original.State!, c.TopK);
                for (var i = 0; i < c.Tokens; i++)
                {
                    if (tied[i])
                        continue;
                    var expected = chosen.Skip(i * c.TopK).Take(c.TopK).Order();
                    var actual = chosenPermuted.Skip(i * c.TopK).Take(c.TopK).Select(e => mapBack[e]).Order();
                    Assert.Equal(expected, actual);
                }
            }
        }, iter: 40);

    private static bool[] TiedAtTheMargin(Tensor ranking, int topK)
    {
        if (topK == ranking.shape[1])
            return new bool[ranking.shape[0]];
        var (values, _) = ranking.topk(topK + 1, dim: 1);
        return values.select(1, topK - 1).eq(values.select(1, topK)).data<bool>().ToArray();
    }

    [Fact]
    public void Histograms_merged_from_any_split_equal_the_whole_batch() =>
        Gen.Select(Cases, Gen.Int[1, 8]).Sample((c, trainers) =>
        {
            using var scope = NewDisposeScope();
            var scores = c.Scores();
            var q = DualBalancing.Solve(scores, zeros(c.Experts), c.TopK, 1, clip: true);
            var p = DualBalancing.TokenPrices(scores, q, c.TopK, clip: true);
            var range = HistogramRange.Default;
            var whole = ExpertHistogram.Build(scores, p, range);

            var merged = new ExpertHistogram(c.Experts, range);
            var cuts = Enumerable.Range(0, trainers + 1).Select(k => (long)k * c.Tokens / trainers).ToArray();
            for (var k = 0; k < trainers; k++)
            {
                if (cuts[k + 1] == cuts[k])
                    continue;
                var length = cuts[k + 1] - cuts[k];
                var part = ExpertHistogram.Build(scores.narrow(0, cuts[k], length), p.narrow(0, cuts[k], length), range);
                merged.AddValidated(part.ToSparse(), part.Tokens);
            }
            Assert.Equal(whole.Tokens, merged.Tokens);
            Assert.True(whole.Counts.SequenceEqual(merged.Counts));
            Assert.Equal(whole.ExpertPrices(c.TopK, clip: true), merged.ExpertPrices(c.TopK, clip: true));
        }, iter: 60);

    private static Tensor TestPermutation(int length, int seed)
    {
        var random = new Random(seed);
        var order = Enumerable.Range(0, length).Select(i => (long)i).ToArray();
        random.Shuffle(order);
        return tensor(order);
    }
}
