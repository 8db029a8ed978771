using LlmCost.Functions;

// The content root is where the app is, not where it was started from: ./run.sh starts it from the repository
// root, the Functions host from its own folder, and appsettings.json (quiet logging) must be read in every case.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.ConfigureLlmCostHost();

// Feature modules. Each owns its services, endpoints and timer/queue functions in its own files.
builder.Services.AddPricingModule(builder.Configuration);
builder.Services.AddRecordingModule(builder.Configuration);
builder.Services.AddBudgetsModule(builder.Configuration);
builder.Services.AddOperationsModule(builder.Configuration);
builder.Services.AddAdviceModule(builder.Configuration);

var app = builder.Build();
app.UseLlmCostHost();
app.MapPricingModule();
app.MapRecordingModule();
app.MapBudgetsModule();
app.MapOperationsModule();
app.MapAdviceModule();
app.MapDashboardModule();
app.Run();

/// <summary>Entry point, public so that tests can start the real host.</summary>
public partial class Program;
