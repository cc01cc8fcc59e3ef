namespace ApiGate.Gateway.Configuration;

/// <summary>Where a setting's value came from, lowest precedence first.</summary>
internal enum SettingSource
{
    /// <summary>Not set anywhere: the <see cref="GatewayOptions"/> default.</summary>
    Default,

    /// <summary>Kept in the store (<c>apigate config set</c>).</summary>
    Stored,

    /// <summary>The config file (<c>apigate.yaml</c>, <c>--config</c> or <c>APIGATE_CONFIG</c>).</summary>
    File,

    /// <summary>An <c>APIGATE_*</c> environment variable.</summary>
    Environment,

    /// <summary>A command-line flag.</summary>
    Flag,
}
