using LlmCost.Functions;

var builder = WebApplication.CreateBuilder(args);
builder.ConfigureLlmCostHost();

// Feature modules. Each owns its services, endpoints and timer/queue functions in its own files.
builder.Services.AddUsageModule(builder.Configuration);
builder.Services.AddBudgetsModule(builder.Configuration);
builder.Services.AddOperationsModule(builder.Configuration);

var app = builder.Build();
app.UseLlmCostHost();
app.MapUsageModule();
app.MapBudgetsModule();
app.MapOperationsModule();
app.Run();

/// <summary>Entry point, public so that tests can start the real host.</summary>
public partial class Program;
