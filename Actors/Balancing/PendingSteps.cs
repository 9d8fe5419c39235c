using Moe.Model.Balancing;

namespace Moe.Actors.Balancing;

/// <summary>
/// The steps a balancer is still merging (not persisted: nothing here was acknowledged). A step is ready when all
/// its contributors have reported or been released (<see cref="Release"/>: a trainer that will not report), when
/// trainers have moved <c>window</c> steps past it, or when nobody added to it for <c>flushAfter</c> (a trainer died
/// unnoticed). Ready steps leave strictly in step order. Summaries of a step binned with different read-out windows
/// (a trainer that missed a publication) are summed per window and rebinned into one when the step is read.
/// </summary>
internal sealed class PendingSteps(LayerSpec spec)
{
    private readonly SortedDictionary<long, StepMerge> _steps = [];

    // A dense histogram is experts x bins longs (512 kB for 64 x 1,000): recycle them rather than allocate one
    // per step on the large-object heap.
    private readonly Stack<ExpertHistogram> _free = [];
    private readonly ReadoutWindow _fixed = ReadoutWindow.Fixed(spec.Range, spec.Experts);

    // Trainers that will not report these steps (inclusive ranges), until the steps are gone.
    private readonly List<(string TrainerId, long From, long To)> _released = [];

    public int Count => _steps.Count;

    public enum AddResult
    {
        Added,
        Duplicate,
        ContributorMismatch,
    }

    /// <summary>Adds a summary that <see cref="SummaryValidation"/> accepted, of a step not yet committed.</summary>
    public AddResult Add(StepSummary summary, DateTime now)
    {
        if (!_steps.TryGetValue(summary.Step, out var merge))
        {
            merge = new StepMerge(summary.Step, summary.Contributors, new long[spec.Experts]);
            _steps.Add(summary.Step, merge);
        }
        if (merge.Contributors != summary.Contributors)
            return AddResult.ContributorMismatch;
        if (!merge.Trainers.Add(summary.TrainerId))
            return AddResult.Duplicate;
        var sum = SumFor(merge, summary.Window ?? _fixed);
        sum.Histogram.AddValidated(summary.Histogram, summary.Tokens);
        sum.Summaries++;
        for (var j = 0; j < merge.Loads.Length; j++)
            merge.Loads[j] += summary.Loads[j];
        merge.LastUpdate = now;
        return AddResult.Added;
    }

    private WindowSum SumFor(StepMerge merge, ReadoutWindow window)
    {
        if (merge.Sums.Find(s => s.Histogram.Window.SameAs(window)) is { } sum)
            return sum;
        var histogram = _free.Count > 0 ? _free.Pop() : new ExpertHistogram(window);
        histogram.Reset(window);
        sum = new WindowSum(histogram);
        merge.Sums.Add(sum);
        return sum;
    }

    /// <summary>
    /// The step's merged histogram, and how many of its summaries were rebinned: the sum binned with the window
    /// that most tokens used, with the others rebinned into it (and recycled).
    /// </summary>
    public (ExpertHistogram Histogram, int Rebinned) Merged(StepMerge merge)
    {
        var main = merge.Sums.MaxBy(s => s.Histogram.Tokens)
                   ?? throw new InvalidOperationException($"Step {merge.Step} has no summaries to merge.");
        var rebinned = 0;
        foreach (var other in merge.Sums.Where(s => s != main))
        {
            main.Histogram.AddRebinned(other.Histogram);
            rebinned += other.Summaries;
            _free.Push(other.Histogram);
        }
        merge.Sums.Clear();
        merge.Sums.Add(main);
        return (main.Histogram, rebinned);
    }

    /// <summary>Trainer <paramref name="trainerId"/> sends nothing for steps <paramref name="from"/> to <paramref name="to"/>.</summary>
    public void Release(string trainerId, long from, long to)
    {
        if (from <= to)
            _released.Add((trainerId, from, to));
    }

    /// <summary>Removes and returns the steps that are ready, oldest first.</summary>
    public List<StepMerge> TakeReady(int window, TimeSpan flushAfter, DateTime now)
    {
        var ready = new List<StepMerge>();
        while (_steps.Count > 0)
        {
            var oldest = _steps.First().Value;
            var newest = _steps.Last().Key;
            var isReady = oldest.Trainers.Count + Released(oldest) >= oldest.Contributors
                          || newest - oldest.Step >= window
                          || now - oldest.LastUpdate >= flushAfter;
            if (!isReady)
                break;
            _steps.Remove(oldest.Step);
            ready.Add(oldest);
            _released.RemoveAll(r => r.To <= oldest.Step);
        }
        return ready;
    }

    // Trainers released from this step that did not report it after all (one that did counts once).
    private int Released(StepMerge merge) => _released.Count == 0 ? 0 :
        _released.Where(r => r.From <= merge.Step && merge.Step <= r.To && !merge.Trainers.Contains(r.TrainerId))
            .Select(r => r.TrainerId).Distinct().Count();

    /// <summary>Takes back the histograms of a step that was read out.</summary>
    public void Recycle(StepMerge merge)
    {
        foreach (var sum in merge.Sums)
            _free.Push(sum.Histogram);
        merge.Sums.Clear();
    }

    /// <summary>Forgets steps that can no longer commit (at or before <paramref name="committedStep"/>).</summary>
    public void DropThrough(long committedStep)
    {
        while (_steps.Count > 0 && _steps.First().Key <= committedStep)
            _steps.Remove(_steps.First().Key);
        _released.RemoveAll(r => r.To <= committedStep);
    }
}

/// <summary>The merge of one step's summaries so far.</summary>
internal sealed class StepMerge(long step, int contributors, long[] loads)
{
    public long Step { get; } = step;

    public int Contributors { get; } = contributors;

    /// <summary>One sum per read-out window the step's summaries were binned with; almost always one.</summary>
    public List<WindowSum> Sums { get; } = [];

    public long[] Loads { get; } = loads;

    public HashSet<string> Trainers { get; } = [];

    public DateTime LastUpdate { get; set; }
}

/// <summary>The summaries of a step binned with one read-out window, summed.</summary>
internal sealed class WindowSum(ExpertHistogram histogram)
{
    public ExpertHistogram Histogram { get; } = histogram;

    public int Summaries { get; set; }
}
