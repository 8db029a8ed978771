// llmcost: price, estimate, catalog, replay, load. Owned by the pricing/CLI work (issue 3).
Console.Error.WriteLine("usage: llmcost price|estimate|catalog|replay|load");
return 2;
