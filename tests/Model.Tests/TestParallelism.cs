// Model construction and TrainingLoop seed libtorch's one global generator (torch.manual_seed): tests running in
// parallel would interleave their draws, and the tests that compare two runs bit for bit would fail at random.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
