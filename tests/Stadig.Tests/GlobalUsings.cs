global using Xunit;
global using Stadig.Tests.Infrastructure;
